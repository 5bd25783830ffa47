package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-signet/signet/client"
	"github.com/caddy-signet/signet/verifier"
)

// exampleKey is a secret key value made for these examples; no server
// has it. A real one comes from the key API (with "offline_signing":
// true) and is read from the environment or a secret store.
const exampleKey = "sk_q3ADzCh46-K1fcjhjnqI2EDikr34lvVVtUJeaZm2YyjDebcn"

// The examples sign at a fixed time with a fixed link id, so that their
// output does not change; real links leave both out.
var fixed = []client.Option{
	client.Now(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	client.URLID(verifier.URLID{0: 1, 15: 2}),
}

func ExampleSignURL() {
	u, err := client.SignURL("https://files.example.com", "/reports/2026/q1 summary.pdf", exampleKey, 5*time.Minute, fixed...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output:
	// https://files.example.com/reports/2026/q1%20summary.pdf?sig=ARRrZXlfbmdwY3hnYWl4Z28zMzV3MgAAAABrDpvMAAAAAGsOmqABAAAAAAAAAAAAAAAAAAACFGtleV9uZ3BjeGdhaXhnbzMzNXcyTXBlns6JFyWus6wS3eEKHgabc3DvSmqvUBC-OGXbh_s
}

func ExampleNewSigner() {
	// Derive the key once, then sign as many links as needed.
	signer, err := client.NewSigner(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signer.KeyID())
	for _, name := range []string{"a.jpg", "b.jpg"} {
		u, err := signer.SignURL("https://files.example.com", "/gallery/thumbs/"+name, time.Hour, fixed...)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u[:len("https://files.example.com/gallery/thumbs/a.jpg?sig=")+8] + "…")
	}
	// Output:
	// key_ngpcxgaixgo335w2
	// https://files.example.com/gallery/thumbs/a.jpg?sig=ARRrZXlf…
	// https://files.example.com/gallery/thumbs/b.jpg?sig=ARRrZXlf…
}

func ExampleSigner_Sign_folder() {
	signer, err := client.NewSigner(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	// A folder link grants /movie/ and everything under it, with any
	// query; its path form keeps the token in relative references.
	link, err := signer.Sign("https://files.example.com", "/movie", 2*time.Hour, append(fixed, client.Folder(), client.MaxUses(100))...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(link.Path, link.Folder, link.ID, link.ExpiresAt)
	fmt.Println(link.URL)
	fmt.Println(link.PathURL)
	// Output:
	// /movie/ true AQAAAAAAAAAAAAAAAAAAAg 2026-12-01 12:00:00 +0000 UTC
	// https://files.example.com/movie/?sig=ARRrZXlfbmdwY3hnYWl4Z28zMzV3MgAAAABrDrbAAAAAAGsOmqABAAAAAAAAAAAAAAAAAAACFGtleV9uZ3BjeGdhaXhnbzMzNXcyAQAHL21vdmllLwQABAAAAGRZajP4sF_FKPsod_yA7PO3dKFKpjn1SlJt_X7wktJJuA
	// https://files.example.com/_signet/v1/t/ARRrZXlfbmdwY3hnYWl4Z28zMzV3MgAAAABrDrbAAAAAAGsOmqABAAAAAAAAAAAAAAAAAAACFGtleV9uZ3BjeGdhaXhnbzMzNXcyAQAHL21vdmllLwQABAAAAGRZajP4sF_FKPsod_yA7PO3dKFKpjn1SlJt_X7wktJJuA/movie/
}

func ExampleQuery() {
	signer, err := client.NewSigner(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	// url.Values go in sorted by name, escaped as the spec writes pairs:
	// a space is %20 and "+" is %2B.
	u, err := signer.SignURL("https://files.example.com", "/search/results.csv", time.Hour,
		append(fixed, client.Query(url.Values{"q": {"a+b c"}, "page": {"2"}}))...)
	if err != nil {
		log.Fatal(err)
	}
	withoutToken, _, _ := strings.Cut(u, "sig=")
	fmt.Println(withoutToken + "sig=…")
	// Output:
	// https://files.example.com/search/results.csv?page=2&q=a%2Bb%20c&sig=…
}

func ExampleDownloadName() {
	signer, err := client.NewSigner(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	// The server answers the link with Content-Disposition: attachment;
	// filename="Q1 report.pdf", at most three times.
	u, err := signer.SignURL("https://files.example.com", "/reports/q1.pdf", 24*time.Hour,
		client.DownloadName("Q1 report.pdf"), client.MaxUses(3))
	if err != nil {
		log.Fatal(err)
	}
	_ = u
}

func ExampleError() {
	// What an API error looks like to the caller.
	var err error = &client.Error{Status: 429, Code: "rate_limit_exceeded", Message: "too many requests; retry later", RetryAfter: 20 * time.Second}
	var apiErr *client.Error
	if errors.Is(err, client.ErrRateLimited) && errors.As(err, &apiErr) {
		fmt.Println("retry in", apiErr.RetryAfter)
	}
	fmt.Println(err)
	// Output:
	// retry in 20s
	// signet: 429 rate_limit_exceeded: too many requests; retry later (retry after 20s)
}

func ExampleClient_Sign() {
	c := client.New("https://files.example.com", exampleKey, client.WithRetry(3, 30*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := c.Sign(ctx, "/reports/q1.pdf", client.SignRequest{ExpiresIn: time.Hour, DownloadName: "Q1.pdf", MaxUses: 1})
	switch {
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("no such file")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(link.URL, link.ID)
	}
}

func ExampleClient_AllLinks() {
	c := client.New("https://files.example.com", exampleKey)
	ctx := context.Background()
	for l, err := range c.AllLinks(ctx, client.LinkFilter{Path: "/reports/", Active: client.Ptr(true)}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(l.ID, l.Path, l.ExpiresAt, l.Uses)
	}
}

func ExampleClient_Revoke() {
	c := client.New("https://files.example.com", exampleKey)
	signer, err := client.NewSigner(exampleKey)
	if err != nil {
		log.Fatal(err)
	}
	link, err := signer.Sign("https://files.example.com", "/reports/q1.pdf", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	// A link signed offline is not in the ledger; it is revoked by its id.
	if _, err := c.Revoke(context.Background(), client.Revocation{ID: link.ID}); err != nil {
		log.Fatal(err)
	}
}
