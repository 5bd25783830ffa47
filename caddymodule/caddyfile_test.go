package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestAppUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        App
		wantErr     string
	}{
		{name: "empty", input: `signet`, want: App{}},
		{name: "empty block", input: `signet {
		}`, want: App{}},
		{name: "file store", input: `signet {
			store file /var/lib/signet.db
		}`, want: App{Store: &StoreConfig{Type: "file", Path: "/var/lib/signet.db"}}},
		{name: "last used", input: `signet {
			last_used_interval 5m
		}`, want: App{LastUsedInterval: caddy.Duration(5 * time.Minute)}},
		{name: "last used days", input: `signet {
			last_used_interval 1d
		}`, want: App{LastUsedInterval: caddy.Duration(24 * time.Hour)}},
		{name: "last used off", input: `signet {
			last_used_interval off
		}`, want: App{LastUsedInterval: -1}},
		{name: "redis not yet", input: `signet {
			store redis redis://localhost:6379
		}`, wantErr: "not supported yet"},
		{name: "unknown store", input: `signet {
			store s3 bucket
		}`, wantErr: `unknown type "s3"`},
		{name: "file without path", input: `signet {
			store file
		}`, wantErr: "missing path"},
		{name: "extra store arg", input: `signet {
			store file a b
		}`, wantErr: "wrong argument count"},
		{name: "bad duration", input: `signet {
			last_used_interval soon
		}`, wantErr: `bad duration "soon"`},
		{name: "zero duration", input: `signet {
			last_used_interval 500ms
		}`, wantErr: "must be at least 1s"},
		{name: "unknown option", input: `signet {
			colour blue
		}`, wantErr: `unrecognized signet option "colour"`},
		{name: "duplicate", input: `signet {
			store file a
			store file b
		}`, wantErr: `duplicate option "store"`},
		{name: "argument", input: `signet on`, wantErr: "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got App
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

func TestHandlerUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        Handler
		wantErr     string
	}{
		{name: "bare", input: `signet`, want: Handler{}},
		{name: "public and realm", input: `signet {
			public /public/ /robots.txt
			public /assets
			realm files
		}`, want: Handler{PublicPaths: []string{"/public/", "/robots.txt", "/assets"}, Realm: "files"}},
		{name: "bad public", input: `signet {
			public /a/../b
		}`, wantErr: `bad path prefix "/a/../b"`},
		{name: "relative public", input: `signet {
			public public/
		}`, wantErr: "bad path prefix"},
		{name: "wildcard public", input: `signet {
			public /public/*
		}`, wantErr: "bad path prefix"},
		{name: "public without args", input: `signet {
			public
		}`, wantErr: "wrong argument count"},
		{name: "duplicate realm", input: `signet {
			realm a
			realm b
		}`, wantErr: `duplicate option "realm"`},
		{name: "unknown", input: `signet {
			api /v1
			bogus
		}`, wantErr: `unrecognized signet option`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

func TestHandlerValidate(t *testing.T) {
	for _, h := range []Handler{
		{PublicPaths: []string{"/a//b"}},
		{Realm: `a"b`},
	} {
		if err := h.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", h)
		}
	}
	if err := (&Handler{PublicPaths: []string{"/ok/"}, Realm: "files"}).Validate(); err != nil {
		t.Errorf("valid handler: %v", err)
	}
}
