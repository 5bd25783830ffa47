package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/caddy-signet/signet/verifier"
)

// The links commands: the ledger through the admin API (/signet/links).
//
//	caddy signet links list [--path P] [--key ID] [--user U] [--active] [--limit N] [--cursor C]
//	caddy signet links get ID
//	caddy signet links revoke ID | --path P | --key ID | --user U | --all
//	caddy signet links extend ID (--expires-in D | --expires-at T)

func addLinksCommands(cmd *cobra.Command) {
	links := &cobra.Command{Use: "links", Short: "Lists, inspects, revokes and extends issued links",
		Args: cobra.ArbitraryArgs, RunE: cliRun(unknownCommand)}
	cmd.AddCommand(links)
	list := &cobra.Command{Use: "list [--path P] [--key ID] [--user U] [--active]", Short: "Lists issued links, newest first",
		Args: cobra.ArbitraryArgs, RunE: cliRun(nargs(0, cmdLinksList))}
	list.Flags().String("path", "", "Only links for paths under this prefix")
	list.Flags().String("key", "", "Only links this key issued")
	list.Flags().String("user", "", "Only links the keys of this user issued")
	list.Flags().Bool("active", false, "Only links that still work (not revoked, not used up)")
	list.Flags().Int("limit", 100, "At most this many (1 to 1000)")
	list.Flags().String("cursor", "", "Go on from a previous list's next cursor")
	links.AddCommand(list)
	links.AddCommand(&cobra.Command{Use: "get ID", Short: "Shows one link", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(1, cmdLinksGet))})
	revoke := &cobra.Command{Use: "revoke ID | --path P | --key ID | --user U | --all", Short: "Revokes one link, or every link matching a filter",
		Args: cobra.ArbitraryArgs, RunE: cliRun(cmdLinksRevoke)}
	revoke.Flags().String("path", "", "Every link for a path under this prefix")
	revoke.Flags().String("key", "", "Every link this key issued")
	revoke.Flags().String("user", "", "Every link the keys of this user issued")
	revoke.Flags().Bool("all", false, "Every link in the ledger")
	links.AddCommand(revoke)
	extend := &cobra.Command{Use: "extend ID (--expires-in D | --expires-at T)", Short: "Moves a link's expiry (later or earlier); its URL stays the same",
		Args: cobra.ArbitraryArgs, RunE: cliRun(nargs(1, cmdLinksExtend))}
	extend.Flags().String("expires-in", "", "New expiry as a duration from now (2d, 12h; 0s ends it now)")
	extend.Flags().String("expires-at", "", "New expiry as an RFC 3339 time")
	links.AddCommand(extend)
}

type linkList struct {
	Links []linkView `json:"links"`
	Next  string     `json:"next"`
}

func cmdLinksList(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	q := url.Values{}
	for flag, param := range map[string]string{"path": "path", "key": "key_id", "user": "user", "cursor": "cursor"} {
		if v, _ := f.GetString(flag); v != "" {
			q.Set(param, v)
		}
	}
	if active, _ := f.GetBool("active"); active {
		q.Set("active", "true")
	}
	if n, _ := f.GetInt("limit"); n != 100 {
		q.Set("limit", fmt.Sprint(n))
	}
	uri := "/signet/links"
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	return callAndRender(cmd, http.MethodGet, uri, nil, func(out io.Writer, l linkList) {
		printLinkTable(out, l.Links)
		if l.Next != "" {
			fmt.Fprintf(out, "More: --cursor %s\n", l.Next)
		}
	})
}

func cmdLinksGet(cmd *cobra.Command, args []string) error {
	return callAndRender(cmd, http.MethodGet, "/signet/links/"+url.PathEscape(args[0]), nil, func(out io.Writer, l linkView) {
		printLinkTable(out, []linkView{l})
	})
}

func cmdLinksRevoke(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	body := map[string]any{}
	for flag, field := range map[string]string{"path": "path", "key": "key_id", "user": "user"} {
		if v, _ := f.GetString(flag); v != "" {
			body[field] = v
		}
	}
	if all, _ := f.GetBool("all"); all {
		body["all"] = true
	}
	switch {
	case len(args) == 1 && len(body) == 0:
		return callAndRender(cmd, http.MethodDelete, "/signet/links/"+url.PathEscape(args[0]), nil, func(out io.Writer, l linkView) {
			fmt.Fprintf(out, "Revoked link %s (%s)\n", l.ID, l.Path)
		})
	case len(args) == 0 && len(body) > 0:
		return callAndRender(cmd, http.MethodPost, "/signet/links/revoke", body, func(out io.Writer, r struct {
			Revoked int `json:"revoked"`
		}) {
			fmt.Fprintf(out, "Revoked %d link(s)\n", r.Revoked)
		})
	}
	return errors.New("give one link id, or filters (--path, --key, --user) or --all")
}

func cmdLinksExtend(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	in, _ := f.GetString("expires-in")
	at, _ := f.GetString("expires-at")
	body := map[string]any{}
	switch {
	case in != "" && at == "":
		d, err := caddy.ParseDuration(in)
		if err != nil || d < 0 {
			return fmt.Errorf("--expires-in %q: want a duration such as 12h or 2d", in)
		}
		if d < time.Second {
			// Now: an expires_at in the past ends the link at once.
			body["expires_at"] = time.Now().UTC().Format(time.RFC3339)
		} else {
			body["expires_in"] = int64(d / time.Second)
		}
	case at != "" && in == "":
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			return fmt.Errorf("--expires-at %q: want an RFC 3339 time such as 2030-01-02T15:04:05Z", at)
		}
		body["expires_at"] = at
	default:
		return errors.New("give one of --expires-in and --expires-at")
	}
	return callAndRender(cmd, http.MethodPatch, "/signet/links/"+url.PathEscape(args[0]), body, func(out io.Writer, l linkView) {
		fmt.Fprintf(out, "Link %s now expires at %s\n", l.ID, l.ExpiresAt.UTC().Format(time.RFC3339))
	})
}

func printLinkTable(w io.Writer, links []linkView) {
	if len(links) == 0 {
		fmt.Fprintln(w, "No links.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPATH\tKEY\tUSER\tCREATED\tEXPIRES\tUSES\tLAST USED\tSTATE\tPOLICY")
	for _, l := range links {
		state := "active"
		switch {
		case l.Revoked:
			state = "revoked"
		case !l.Active:
			state = "used up"
		}
		uses := fmt.Sprint(l.Uses)
		if l.Policy.MaxUses > 0 {
			uses += fmt.Sprintf("/%d", l.Policy.MaxUses)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Path, dash(l.KeyID), dash(l.User),
			l.CreatedAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339), uses, timeOrDash(l.LastUsed),
			state, dash(policySummary(l)))
	}
	_ = tw.Flush()
}

func policySummary(l linkView) string {
	var parts []string
	p := l.Policy
	if p.DownloadName != "" {
		parts = append(parts, fmt.Sprintf("name=%q", p.DownloadName))
	}
	if p.Inline {
		parts = append(parts, "inline")
	}
	if p.ContentType != "" {
		parts = append(parts, "type="+p.ContentType)
	}
	if p.ClientCIDR != "" {
		parts = append(parts, "from="+p.ClientCIDR)
	}
	return strings.Join(parts, " ")
}

// flagError explains the one flag error a careful user still meets: a link
// id (22 characters of base64url) may start with "-", which reads as a
// flag; it goes after "--".
func flagError(_ *cobra.Command, err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, " in -"); i >= 0 {
		if arg := msg[i+4:]; len(arg) == verifier.URLIDLen {
			if _, perr := verifier.ParseURLID(arg); perr == nil {
				return fmt.Errorf("%v: a link id that starts with \"-\" goes after \"--\", with the flags before it: caddy signet links get -- %s", err, arg)
			}
		}
	}
	return err
}
