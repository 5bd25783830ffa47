package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-signet/signet/keystore"
)

const defaultAdminAddress = "localhost:2019"

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "signet",
		Usage: "keys|users <create|list|get|update|delete> | sign PATH --expires-in D [flags] | links <list|get|revoke|extend> | revoke <url|id> [flags]",
		Short: "Manages Signet API keys and signs URLs through the admin API",
		Long: `
Manages Signet through a running Caddy's admin API (like caddy reload does).

  caddy signet keys create --name N [--type secret|public] [--user U]
                           [--scope /p/ ...] [--permissions read|sign|admin|none]
                           [--expires 30d|<RFC 3339>]
  caddy signet keys list
  caddy signet keys get ID
  caddy signet keys update ID [--name N] [--user U] [--scope /p/ ...]
                           [--permissions P] [--expires 30d|<RFC 3339>|never]
  caddy signet keys delete ID
  caddy signet users create NAME --scope /p/ [--scope /q/ ...]
                           [--permissions read|sign|admin|none] [--self-service]
  caddy signet users list
  caddy signet users get NAME
  caddy signet users update NAME [--scope /p/ ...] [--permissions P]
                           [--self-service=true|false]
  caddy signet users delete NAME      (deletes the user and all its keys)
  caddy signet sign PATH --expires-in 1h [--folder] [--base-url https://files.example.com]
                           [--download-name N [--inline]] [--content-type T]
                           [--max-uses N] [--client-cidr 203.0.113.0/24]
  caddy signet links list [--path P] [--key ID] [--user U] [--active]
  caddy signet links get ID
  caddy signet links revoke ID | --path P | --key ID | --user U | --all
  caddy signet links extend ID --expires-in 2d | --expires-at T
  caddy signet revoke <signed URL | URL id>
  caddy signet revoke --key ID       (every URL the key issued until now)
  caddy signet revoke --prefix /p/   (every URL under /p/ issued until now)

--address points at the admin endpoint (default localhost:2019); --json
prints the API's JSON instead of a table. A created key's value is shown
once: store it then.
`,
		CobraFunc: buildSignetCommand,
	})
}

func buildSignetCommand(cmd *cobra.Command) {
	cmd.PersistentFlags().String("address", defaultAdminAddress, "Admin API address")
	cmd.PersistentFlags().Bool("json", false, "Print the API's JSON response")
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = cliRun(unknownCommand)
	cmd.SetFlagErrorFunc(flagError)

	keys := &cobra.Command{Use: "keys", Short: "Create, list, inspect, update and delete API keys",
		Args: cobra.ArbitraryArgs, RunE: cliRun(unknownCommand)}
	cmd.AddCommand(keys)

	create := &cobra.Command{
		Use:   "create --name N [flags]",
		Short: "Creates an API key and prints its value (shown once)",
		Args:  cobra.ArbitraryArgs,
		RunE:  cliRun(nargs(0, cmdKeysCreate)),
	}
	keyFlags(create, false)
	create.Flags().String("type", "secret", "Key type: secret or public")
	keys.AddCommand(create)

	keys.AddCommand(&cobra.Command{
		Use: "list", Short: "Lists API keys (never their values)", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(0, cmdKeysList)),
	})
	keys.AddCommand(&cobra.Command{
		Use: "get ID", Short: "Shows one API key", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(1, cmdKeysGet)),
	})
	update := &cobra.Command{
		Use: "update ID [flags]", Short: "Changes an API key (--permissions none disables it)",
		Args: cobra.ArbitraryArgs, RunE: cliRun(nargs(1, cmdKeysUpdate)),
	}
	keyFlags(update, true)
	keys.AddCommand(update)
	keys.AddCommand(&cobra.Command{
		Use: "delete ID", Short: "Deletes (revokes) an API key", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(1, cmdKeysDelete)),
	})

	users := &cobra.Command{Use: "users", Short: "Create, list, inspect, update and delete users",
		Args: cobra.ArbitraryArgs, RunE: cliRun(unknownCommand)}
	cmd.AddCommand(users)
	ucreate := &cobra.Command{Use: "create NAME --scope /p/ [flags]", Short: "Creates a user",
		Args: cobra.ArbitraryArgs, RunE: cliRun(nargs(1, cmdUsersCreate))}
	userFlags(ucreate)
	users.AddCommand(ucreate)
	users.AddCommand(&cobra.Command{Use: "list", Short: "Lists users", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(0, cmdUsersList))})
	users.AddCommand(&cobra.Command{Use: "get NAME", Short: "Shows one user", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(1, cmdUsersGet))})
	uupdate := &cobra.Command{Use: "update NAME [flags]", Short: "Changes a user (every key of the user follows)",
		Args: cobra.ArbitraryArgs, RunE: cliRun(nargs(1, cmdUsersUpdate))}
	userFlags(uupdate)
	users.AddCommand(uupdate)
	users.AddCommand(&cobra.Command{Use: "delete NAME", Short: "Deletes a user and all its keys", Args: cobra.ArbitraryArgs,
		RunE: cliRun(nargs(1, cmdUsersDelete))})

	sign := &cobra.Command{
		Use:   "sign PATH --expires-in D [--folder] [--base-url URL]",
		Short: "Prints a signed URL for PATH, valid for D (e.g. 1h, 7d)",
		Args:  cobra.ArbitraryArgs,
		RunE:  cliRun(nargs(1, cmdSign)),
	}
	sign.Flags().String("expires-in", "", "Lifetime: a duration such as 15m, 1h or 7d (required)")
	sign.Flags().Bool("folder", false, "Sign a folder link: PATH/ and every path under it (prints the url, then the path_url)")
	sign.Flags().String("download-name", "", "Serve it as a download with this file name")
	sign.Flags().Bool("inline", false, "Content-Disposition: inline instead of attachment")
	sign.Flags().String("content-type", "", "Serve it with this Content-Type")
	sign.Flags().Int("max-uses", 0, "The link works for this many downloads (default: any number)")
	sign.Flags().String("client-cidr", "", "The link works only from this address or network, e.g. 203.0.113.0/24")
	sign.Flags().String("base-url", "", "Scheme and host of the URL, e.g. https://files.example.com (default: the configured base_url)")
	cmd.AddCommand(sign)
	addLinksCommands(cmd)

	revoke := &cobra.Command{
		Use:   "revoke <URL|ID> | --key ID | --prefix P",
		Short: "Revokes a signed URL, or every URL a key or a path prefix issued until now",
		Args:  cobra.ArbitraryArgs,
		RunE:  cliRun(cmdRevoke),
	}
	revoke.Flags().String("key", "", "Revoke every signed URL this key issued until now")
	revoke.Flags().String("prefix", "", "Revoke every signed URL for paths under this prefix issued until now")
	cmd.AddCommand(revoke)
}

func cmdRevoke(cmd *cobra.Command, args []string) error {
	key, _ := cmd.Flags().GetString("key")
	prefix, _ := cmd.Flags().GetString("prefix")
	body := map[string]any{}
	switch {
	case len(args) == 1 && key == "" && prefix == "":
		if strings.Contains(args[0], "://") {
			body["url"] = args[0]
		} else {
			body["id"] = args[0]
		}
	case len(args) == 0 && key != "" && prefix == "":
		body["key_id"] = key
	case len(args) == 0 && prefix != "" && key == "":
		body["prefix"] = prefix
	default:
		return errors.New("give one signed URL or URL id, or --key ID, or --prefix P")
	}
	return callAndRender(cmd, http.MethodPost, "/signet/revocations", body, func(out io.Writer, r revokeResponse) {
		if r.Revocation == nil {
			fmt.Fprintln(out, "That URL has expired already: nothing to revoke.")
			return
		}
		what := map[keystore.RevocationKind]string{
			keystore.RevokeURL:    "signed URL " + r.Revocation.Target,
			keystore.RevokeKey:    "every signed URL issued by " + r.Revocation.Target + " until " + r.Revocation.Before.Format(time.RFC3339),
			keystore.RevokePrefix: "every signed URL under " + r.Revocation.Target + " issued until " + r.Revocation.Before.Format(time.RFC3339),
		}[r.Revocation.Kind]
		fmt.Fprintf(out, "Revoked %s (record kept until %s)\n", what, r.Revocation.ExpiresAt.Format(time.RFC3339))
	})
}

func cmdSign(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	in, _ := f.GetString("expires-in")
	if in == "" {
		return errors.New("--expires-in is required (e.g. 1h)")
	}
	d, err := caddy.ParseDuration(in)
	if err != nil || d < time.Second {
		return fmt.Errorf("--expires-in %q: want a duration of at least 1s, such as 15m, 1h or 7d", in)
	}
	body := map[string]any{"path": args[0], "expires_in": int64(d / time.Second)}
	if base, _ := f.GetString("base-url"); base != "" {
		body["base_url"] = base
	}
	for flag, field := range map[string]string{"download-name": "download_name", "content-type": "content_type", "client-cidr": "client_cidr"} {
		if v, _ := f.GetString(flag); v != "" {
			body[field] = v
		}
	}
	for flag, field := range map[string]string{"folder": "folder", "inline": "inline"} {
		if v, _ := f.GetBool(flag); v {
			body[field] = true
		}
	}
	if n, _ := f.GetInt("max-uses"); n != 0 {
		body["max_uses"] = n
	}
	return callAndRender(cmd, http.MethodPost, "/signet/sign", body, func(out io.Writer, s signedURLResponse) {
		fmt.Fprintln(out, s.URL)
		if s.PathURL != "" {
			fmt.Fprintln(out, s.PathURL)
		}
	})
}

func keyFlags(c *cobra.Command, update bool) {
	if update {
		c.Flags().String("name", "", "New name")
		c.Flags().String("user", "", "New user (must exist; empty makes a site-wide key)")
		c.Flags().StringArray("scope", nil, "Path prefix the key may access (repeatable; replaces all scopes)")
		c.Flags().String("permissions", "", "none (disable), read, sign or admin")
		c.Flags().String("expires", "", "New expiry: a duration from now (30d, 12h), an RFC 3339 time, or never")
		c.Flags().Bool("offline-signing", true, "--offline-signing=false drops the key's offline secret, ending every link it signed itself")
		return
	}
	c.Flags().String("name", "", "Human-readable name (required)")
	c.Flags().String("user", "", "The user a user key acts as (the user must exist; the key follows it)")
	c.Flags().StringArray("scope", nil, "Path prefix the key may access (repeatable; default / for site-wide keys, the user's for user keys)")
	c.Flags().String("permissions", "", "none, read, sign or admin (default read; a user key follows its user)")
	c.Flags().String("expires", "", "Expiry: a duration from now (30d, 12h) or an RFC 3339 time")
	c.Flags().Bool("offline-signing", false, "The key signs links itself, offline, with a secret derived from its value (a secret key that may sign)")
}

// nargs checks the number of positional arguments inside the command, so
// that a wrong count is reported in the same one-line format as any error.
func nargs(n int, f func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			use := cmd.Use
			if i := strings.IndexByte(use, ' '); i > 0 {
				use = use[:i]
			}
			return fmt.Errorf("%s takes %d argument(s), got %d (usage: %s)", use, n, len(args), cmd.UseLine())
		}
		return f(cmd, args)
	}
}

// unknownCommand answers `caddy signet` and `caddy signet keys` given no
// or an unknown subcommand.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		_ = cmd.Help()
		return errors.New("a subcommand is required")
	}
	return fmt.Errorf("unknown command %q (see caddy signet --help)", args[0])
}

// cliRun adapts a command to cobra: one clear error line on stderr and a
// non-zero exit status.
func cliRun(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cmd.SilenceUsage = true
		err := f(cmd, args)
		if err != nil {
			cmd.SilenceErrors = true
			fmt.Fprintln(cmd.ErrOrStderr(), "caddy signet: "+err.Error())
		}
		return err
	}
}

func cmdKeysCreate(cmd *cobra.Command, _ []string) error {
	body := map[string]any{}
	f := cmd.Flags()
	name, _ := f.GetString("name")
	if name == "" {
		return errors.New("--name is required")
	}
	typ, _ := f.GetString("type")
	body["name"], body["type"] = name, typ
	if err := collectKeyFlags(cmd, body, false); err != nil {
		return err
	}
	return callAndRender(cmd, http.MethodPost, "/signet/keys", body, func(out io.Writer, k keyView) {
		offline := ""
		if k.OfflineSigning {
			offline = ", signs links offline"
		}
		fmt.Fprintf(out, "Created %s key %s (%q): permissions %s, scopes %s%s%s\n",
			k.Type, k.ID, k.Name, k.Access.Permissions, strings.Join(k.Access.Scopes, " "), expiryText(k.ExpiresAt), offline)
		fmt.Fprintln(out, "Key (shown once, store it now):")
		fmt.Fprintln(out, k.Key)
	})
}

func expiryText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", expires " + t.Format(time.RFC3339)
}

func cmdKeysList(cmd *cobra.Command, _ []string) error {
	type list struct {
		Keys []keyView `json:"keys"`
	}
	return callAndRender(cmd, http.MethodGet, "/signet/keys", nil, func(out io.Writer, l list) {
		printKeyTable(out, l.Keys)
	})
}

func cmdKeysGet(cmd *cobra.Command, args []string) error {
	return keyCall(cmd, http.MethodGet, args[0], nil, "")
}

func cmdKeysUpdate(cmd *cobra.Command, args []string) error {
	body := map[string]any{}
	if name, _ := cmd.Flags().GetString("name"); cmd.Flags().Changed("name") {
		body["name"] = name
	}
	if err := collectKeyFlags(cmd, body, true); err != nil {
		return err
	}
	if len(body) == 0 {
		return errors.New("nothing to update: give --name, --user, --scope, --permissions, --expires or --offline-signing=false")
	}
	return keyCall(cmd, http.MethodPatch, args[0], body, "Updated")
}

func cmdKeysDelete(cmd *cobra.Command, args []string) error {
	resp, err := adminCall(cmd, http.MethodDelete, "/signet/keys/"+url.PathEscape(args[0]), nil)
	if err != nil {
		return err
	}
	if jsonOutput(cmd) {
		return printRaw(cmd, resp)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Deleted key %s\n", args[0])
	return nil
}

// keyCall performs a request on one key and prints the resulting record.
func keyCall(cmd *cobra.Command, method, id string, body any, verb string) error {
	return callAndRender(cmd, method, "/signet/keys/"+url.PathEscape(id), body, func(out io.Writer, k keyView) {
		if verb != "" {
			fmt.Fprintf(out, "%s key %s\n", verb, k.ID)
		}
		printKeyTable(out, []keyView{k})
	})
}

// collectKeyFlags copies the shared key flags that were given into body.
func collectKeyFlags(cmd *cobra.Command, body map[string]any, update bool) error {
	f := cmd.Flags()
	if f.Changed("user") {
		body["user"], _ = f.GetString("user")
	}
	if f.Changed("scope") {
		body["scopes"], _ = f.GetStringArray("scope")
	}
	if f.Changed("permissions") {
		body["permissions"], _ = f.GetString("permissions")
	}
	if f.Changed("offline-signing") {
		body["offline_signing"], _ = f.GetBool("offline-signing")
	}
	if f.Changed("expires") {
		v, _ := f.GetString("expires")
		if update && v == "never" {
			body["expires_at"] = nil
			return nil
		}
		t, err := parseExpiry(v, time.Now())
		if err != nil {
			return fmt.Errorf("--expires %q: want a duration such as 30d or 12h, or an RFC 3339 time", v)
		}
		body["expires_at"] = t
	}
	return nil
}

// parseExpiry reads an expiry given as a positive duration from now (`30d`,
// `12h`) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := caddy.ParseDuration(s)
	if err != nil {
		return time.Time{}, err
	}
	if d <= 0 {
		return time.Time{}, errors.New("duration must be positive")
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}

func jsonOutput(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

func printRaw(cmd *cobra.Command, resp []byte) error {
	var buf bytes.Buffer
	resp = bytes.TrimSpace(resp)
	if err := json.Indent(&buf, resp, "", "  "); err != nil {
		buf.Reset()
		buf.Write(resp)
	}
	buf.WriteByte('\n')
	_, err := cmd.OutOrStdout().Write(buf.Bytes())
	return err
}

func printKeyTable(w io.Writer, keys []keyView) {
	if len(keys) == 0 {
		fmt.Fprintln(w, "No keys.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tUSER\tPERMISSIONS\tSCOPES\tEXPIRES\tLAST USED\tHINT")
	for _, k := range keys {
		typ := string(k.Type)
		if k.OfflineSigning {
			typ += ",offline"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t…%s\n", k.ID, k.Name, typ, dash(k.User),
			k.Access.Permissions, strings.Join(k.Access.Scopes, ","), timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt), k.Hint)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// callAndRender sends a request to the admin API; with --json it prints the
// response as is, otherwise it decodes it as T and renders it.
func callAndRender[T any](cmd *cobra.Command, method, uri string, body any, render func(io.Writer, T)) error {
	resp, err := adminCall(cmd, method, uri, body)
	if err != nil {
		return err
	}
	if jsonOutput(cmd) {
		return printRaw(cmd, resp)
	}
	var v T
	if err := json.Unmarshal(resp, &v); err != nil {
		return fmt.Errorf("unexpected response: %v", err)
	}
	render(cmd.OutOrStdout(), v)
	return nil
}

// adminCall sends a request to the admin API and returns the response body.
// API errors come back as one readable error: the API's own message.
func adminCall(cmd *cobra.Command, method, uri string, body any) ([]byte, error) {
	addr, _ := cmd.Flags().GetString("address")
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	status, resp, err := adminRequest(addr, method, uri, r)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s (is Caddy running? use --address): %v", addr, err)
	}
	if status >= 400 {
		return nil, adminError(status, resp)
	}
	return resp, nil
}

// adminRequest performs one request on Caddy's admin endpoint at addr
// (host:port, or unix/path as in Caddy's admin option) the way Caddy's own
// commands do (an Origin header for TCP), and returns the status and body.
func adminRequest(addr, method, uri string, body io.Reader) (int, []byte, error) {
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil || na.PortRangeSize() > 1 {
		return 0, nil, fmt.Errorf("invalid admin address %q", addr)
	}
	origin := "http://" + na.JoinHostPort(0)
	dialAddr := na.JoinHostPort(0)
	if na.IsUnixNetwork() {
		origin = "http://127.0.0.1"
		dialAddr, _, _ = strings.Cut(na.Host, "|") // without socket permission bits
	}
	req, err := http.NewRequest(method, origin+uri, body)
	if err != nil {
		return 0, nil, err
	}
	if !na.IsUnixNetwork() {
		req.Header.Set("Origin", origin)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, na.Network, dialAddr)
		},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}

// adminError is the one-line error for an admin API error response: the
// message of Signet's JSON error body, or of Caddy's own.
func adminError(status int, body []byte) error {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		return fmt.Errorf("%s (HTTP %d)", eb.Error.Message, status)
	}
	var caddyErr struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &caddyErr) == nil && caddyErr.Error != "" {
		return fmt.Errorf("%s (HTTP %d)", caddyErr.Error, status)
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Errorf("HTTP %d: %s", status, msg)
}

func userFlags(c *cobra.Command) {
	c.Flags().StringArray("scope", nil, "Home folder of the user (repeatable; replaces all scopes on update)")
	c.Flags().String("permissions", "", "none (disable), read, sign or admin (default read)")
	c.Flags().Bool("self-service", false, "The user's keys may manage the user's own keys")
}

// userBody copies the user flags that were given into body.
func userBody(cmd *cobra.Command, body map[string]any) {
	f := cmd.Flags()
	if f.Changed("scope") {
		body["scopes"], _ = f.GetStringArray("scope")
	}
	if f.Changed("permissions") {
		body["permissions"], _ = f.GetString("permissions")
	}
	if f.Changed("self-service") {
		body["self_service"], _ = f.GetBool("self-service")
	}
}

func cmdUsersCreate(cmd *cobra.Command, args []string) error {
	body := map[string]any{"name": args[0]}
	userBody(cmd, body)
	return callAndRender(cmd, http.MethodPost, "/signet/users", body, func(out io.Writer, u userView) {
		fmt.Fprintf(out, "Created user %s\n", u.Name)
		printUserTable(out, []userView{u})
	})
}

func cmdUsersList(cmd *cobra.Command, _ []string) error {
	type list struct {
		Users []userView `json:"users"`
	}
	return callAndRender(cmd, http.MethodGet, "/signet/users", nil, func(out io.Writer, l list) {
		printUserTable(out, l.Users)
	})
}

func cmdUsersGet(cmd *cobra.Command, args []string) error {
	return callAndRender(cmd, http.MethodGet, "/signet/users/"+url.PathEscape(args[0]), nil, func(out io.Writer, u userView) {
		printUserTable(out, []userView{u})
	})
}

func cmdUsersUpdate(cmd *cobra.Command, args []string) error {
	body := map[string]any{}
	userBody(cmd, body)
	if len(body) == 0 {
		return errors.New("nothing to update: give --scope, --permissions or --self-service")
	}
	return callAndRender(cmd, http.MethodPatch, "/signet/users/"+url.PathEscape(args[0]), body, func(out io.Writer, u userView) {
		fmt.Fprintf(out, "Updated user %s\n", u.Name)
		printUserTable(out, []userView{u})
	})
}

func cmdUsersDelete(cmd *cobra.Command, args []string) error {
	type deleted struct {
		Keys []string `json:"deleted_keys"`
	}
	return callAndRender(cmd, http.MethodDelete, "/signet/users/"+url.PathEscape(args[0]), nil, func(out io.Writer, d deleted) {
		fmt.Fprintf(out, "Deleted user %s and %d key(s)\n", args[0], len(d.Keys))
	})
}

func printUserTable(w io.Writer, users []userView) {
	if len(users) == 0 {
		fmt.Fprintln(w, "No users.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPERMISSIONS\tSCOPES\tSELF-SERVICE\tUPDATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", u.Name, u.Permissions, strings.Join(u.Scopes, ","), u.SelfService, u.UpdatedAt.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
}
