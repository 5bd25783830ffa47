package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Version is the version of this package, sent in the default User-Agent.
const Version = "0.1.0"

// maxResponse caps the body of an answer the client reads (a page of
// 1000 links is about 400 KB).
const maxResponse = 16 << 20

// Client calls a Signet server's public API with an API key: the signing
// endpoint, the key and users APIs, the links API and revocations. Make
// one with New and share it; it is safe for concurrent use. Every method
// takes a context, which bounds the whole call (retries included).
//
// An error answer is an *Error; compare it with ErrBadRequest,
// ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrRateLimited
// and ErrUnavailable through errors.Is. Other errors (the network, a
// cancelled context, a bad argument) are returned as they are.
type Client struct {
	base    string
	baseErr error
	key     string
	api     string
	apiErr  error
	hc      *http.Client
	ua      string
	retries int
	maxWait time.Duration
}

// ClientOption configures a Client (New).
type ClientOption func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of
// http.DefaultClient (for timeouts, proxies, TLS settings, transports).
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithAPI sets the server's API prefix, its api option (default
// "/_signet/v1").
func WithAPI(prefix string) ClientOption {
	return func(c *Client) { c.api, c.apiErr = checkAPI(prefix) }
}

// WithUserAgent sets the User-Agent of every request (default
// "signet-go-client/" and Version).
func WithUserAgent(ua string) ClientOption {
	return func(c *Client) { c.ua = ua }
}

// WithRetry makes the client retry a request answered 429 (rate limited)
// up to retries times, each after the wait its Retry-After asks for, as
// long as that wait is at most maxWait and the context allows it. A 429
// means the server did nothing, so every request, a POST included, can be
// sent again. Other errors are never retried. Without this option, a 429
// is returned at once as an *Error with RetryAfter.
func WithRetry(retries int, maxWait time.Duration) ClientOption {
	return func(c *Client) { c.retries, c.maxWait = max(retries, 0), maxWait }
}

// New returns a client for the Signet server at baseURL
// (scheme://host[:port], the site Signet guards) that authenticates with
// the API key value key (sent as Authorization: Bearer). A baseURL that
// is not valid is reported by every call.
func New(baseURL, key string, opts ...ClientOption) *Client {
	c := &Client{
		base: baseURL, key: key, api: DefaultAPI, hc: http.DefaultClient,
		ua: "signet-go-client/" + Version,
	}
	_, c.baseErr = splitBaseURL(baseURL)
	for _, o := range opts {
		o(c)
	}
	return c
}

// do sends one API request: method on {api}route (route escaped, starting
// with "/"), with query q, the JSON of in as the body (none if in is nil),
// and decodes a 2xx answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, route string, q url.Values, in, out any) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	if c.apiErr != nil {
		return c.apiErr
	}
	u := c.base + escapePath(c.api) + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, u, body, out)
		var e *Error
		if attempt >= c.retries || !errors.As(err, &e) || e.Status != http.StatusTooManyRequests ||
			e.RetryAfter <= 0 || e.RetryAfter > c.maxWait {
			return err
		}
		if serr := sleepCtx(ctx, e.RetryAfter); serr != nil {
			return err
		}
	}
}

// once sends the request once.
func (c *Client) once(ctx context.Context, method, u string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("client: reading the answer to %s %s: %w", method, redactURL(u), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromResponse(resp, data, time.Now())
	}
	if len(data) > maxResponse {
		return fmt.Errorf("client: the answer to %s %s is larger than %d bytes", method, redactURL(u), maxResponse)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: the answer to %s %s is not the JSON expected: %w", method, redactURL(u), err)
	}
	return nil
}

// redactURL drops the query of u for error messages.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sign asks the server's signing endpoint for a link to path
// (POST {api}/files/{path}/signed-url), signed with the client's key and
// recorded in the server's ledger (so it can be listed, extended and
// counted). path is the decoded path of the file, or of the folder for
// req.Folder ("/movie" or "/movie/"). For links without a network call,
// use a Signer.
func (c *Client) Sign(ctx context.Context, path string, req SignRequest) (*SignedURL, error) {
	if path == "" || path[0] != '/' {
		return nil, fmt.Errorf("client: path: must be an absolute path such as /reports/q1.pdf (got %q)", clip(path))
	}
	if req.Folder && len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	var out SignedURL
	if err := c.do(ctx, http.MethodPost, "/files"+escapePath(path)+"/signed-url", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Revoke revokes signed URLs (POST {api}/revocations): one by its whole
// URL or its id, every URL a key issued until now, or every URL under a
// path prefix issued until now. Give exactly one field of r. A URL that
// had expired already is not recorded: the result then has AlreadyExpired
// and no Revocation.
func (c *Client) Revoke(ctx context.Context, r Revocation) (*RevokeResult, error) {
	var out RevokeResult
	if err := c.do(ctx, http.MethodPost, "/revocations", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
