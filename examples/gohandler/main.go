// Command gohandler is a web application that hands out downloads as
// Signet links: GET /download/{id} redirects to a 5-minute link of the
// file with that id, signed offline with the application's Signet key,
// without a call to Signet.
//
// It reads the key from SIGNET_KEY (a secret key created with offline
// signing, whose scope covers the files), the Signet site from SIGNET_URL
// (such as https://files.example.com) and the address to listen on from
// ADDR (default localhost:8000).
package main

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/caddy-signet/signet/client"
)

// download is a file the application offers: its path on the Signet site
// and the name browsers save it under.
type download struct {
	path string
	name string
}

// downloads are the files by id; a real application looks them up in its
// database, after checking that the user may have them.
var downloads = map[string]download{
	"q1-report": {path: "/reports/q1.txt", name: "Q1 report.txt"},
	"notes":     {path: "/alice/notes.txt", name: "notes.txt"},
}

func main() {
	signer, err := client.NewSigner(os.Getenv("SIGNET_KEY")) // derives the key once
	if err != nil {
		log.Fatalf("SIGNET_KEY: %v", err)
	}
	base := os.Getenv("SIGNET_URL")
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "localhost:8000"
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /download/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := downloads[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		link, err := signer.SignURL(base, d.path, 5*time.Minute, client.DownloadName(d.name))
		if err != nil {
			log.Printf("signing %s: %v", d.path, err)
			http.Error(w, "cannot make the download link", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store") // a new link every time
		http.Redirect(w, r, link, http.StatusFound)
	})
	log.Printf("gohandler: listening on %s, links for %s signed by %s", addr, base, signer.KeyID())
	log.Fatal(http.ListenAndServe(addr, mux))
}
