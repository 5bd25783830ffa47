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
		{name: "redis url", input: `signet {
			store redis redis://localhost:6379/2
			max_staleness 1m
			serve_stale
			resync_interval 30s
		}`, want: App{Store: &StoreConfig{Type: "redis", URL: "redis://localhost:6379/2"},
			MaxStaleness: caddy.Duration(time.Minute), ServeStale: true, ResyncInterval: caddy.Duration(30 * time.Second)}},
		{name: "redis sentinel block", input: `signet {
			store redis {
				addresses s1:26379 s2:26379
				master_name mymaster
				username signet
				password {env.REDIS_PASSWORD}
				db 3
				tls
				namespace files
			}
		}`, want: App{Store: &StoreConfig{Type: "redis", Addresses: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster",
			Username: "signet", Password: "{env.REDIS_PASSWORD}", DB: 3, TLS: true, Namespace: "files"}}},
		{name: "redis env url", input: `signet {
			store redis {env.REDIS_URL}
		}`, want: App{Store: &StoreConfig{Type: "redis", URL: "{env.REDIS_URL}"}}},
		{name: "redis without address", input: `signet {
			store redis
		}`, wantErr: "give a URL"},
		{name: "redis url and addresses", input: `signet {
			store redis redis://a:6379 {
				addresses b:6379
			}
		}`, wantErr: "either a URL or addresses"},
		{name: "redis bad scheme", input: `signet {
			store redis http://a:6379
		}`, wantErr: "must start with redis://"},
		{name: "redis unknown option", input: `signet {
			store redis {
				url redis://a:6379
				pool 5
			}
		}`, wantErr: `unrecognized option "pool"`},
		{name: "redis bad db", input: `signet {
			store redis {
				url redis://a:6379
				db x
			}
		}`, wantErr: "db must be"},
		{name: "staleness too small", input: `signet {
			max_staleness 10ms
		}`, wantErr: "must be at least 1s"},
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
		{name: "zero lifetime", input: `signet {
			max_lifetime 0s
		}`, wantErr: "max_lifetime: must be between 1s and 7d"},
		{name: "zero staleness", input: `signet {
			max_staleness 0s
		}`, wantErr: "max_staleness: must be at least 1s"},
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
