package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// docSignerDriver runs after the documented signer: for every vector of
// the file named by argv[1] it signs the vector's target, and each request
// the vector's checks accept (its host, decoded path and query without the
// signature parameter), and prints what it made, as JSON.
const docSignerDriver = `
import json as _json, sys as _sys, urllib.parse as _up

def _resign(_v, _host, _path, _query):
    _c = _v["claims"]
    return sign(_v["secret"]["id"], bytes.fromhex(_v["secret"]["key_hex"]),
                _c["expires_at"], _c["issued_at"], _c["id"], _c["key_id"], _c["prefix"],
                _host, _path, _query, **_c.get("policy", {}))

_out = []
for _v in _json.load(open(_sys.argv[1], encoding="utf-8"))["vectors"]:
    _t = _v["target"]
    _r = {"name": _v["name"],
          "canonical_query": canonical_query(_t["raw_query"].encode()).decode(),
          "token": _resign(_v, _t["host"], _t["path"], _t["raw_query"]),
          "checks": []}
    for _k in _v["checks"]:
        if _k["error"] != "":
            continue
        # The request as received: its decoded path and its query without
        # the signature parameter, signed again, must give the same token.
        _p, _, _q = _k["request_uri"].partition("?")
        _q = "&".join(x for x in _q.split("&") if canon(x.partition("=")[0].encode()) != b"sig")
        _r["checks"].append({"request_uri": _k["request_uri"],
                             "token": _resign(_v, _k["host"], _up.unquote_to_bytes(_p).decode(), _q)})
    _out.append(_r)
print(_json.dumps(_out))
`

// TestDocumentedPythonSigner runs the Python signer of docs/signed-urls.md
// ("A signer in Python"), as written there, against every test vector of
// verifier/testdata/signed-url-vectors.json: it must make each vector's
// token, also when it signs the requests the vector accepts as they were
// received (which is where a folder token's unbound query shows), so the
// documented signer cannot drift from the format.
func TestDocumentedPythonSigner(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is needed to check the documented signer: %v", err)
		}
		t.Skipf("python3 is not installed: %v", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "signed-urls.md"))
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## A signer in Python\n"
	i := strings.Index(string(doc), heading)
	if i < 0 {
		t.Fatalf("docs/signed-urls.md has no %q section", strings.TrimSpace(heading))
	}
	sec := string(doc)[i+len(heading):]
	if j := strings.Index(sec, "\n## "); j >= 0 {
		sec = sec[:j]
	}
	blocks := mdFencedBlocks(sec, "python")
	if len(blocks) != 1 {
		t.Fatalf(`docs/signed-urls.md: want one python block under "A signer in Python", got %d`, len(blocks))
	}

	vectorsFile := filepath.Join("..", "verifier", "testdata", "signed-url-vectors.json")
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Vectors []struct {
			Name           string `json:"name"`
			CanonicalQuery string `json:"canonical_query"`
			Token          string `json:"token"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Vectors) == 0 {
		t.Fatal("no vectors")
	}

	cmd := exec.Command(py, "-c", blocks[0]+docSignerDriver, vectorsFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the documented signer failed: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Name           string `json:"name"`
		CanonicalQuery string `json:"canonical_query"`
		Token          string `json:"token"`
		Checks         []struct {
			RequestURI string `json:"request_uri"`
			Token      string `json:"token"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("the driver's output is not JSON: %v\n%s", err, stdout.String())
	}
	if len(got) != len(vectors.Vectors) {
		t.Fatalf("%d results for %d vectors", len(got), len(vectors.Vectors))
	}
	checked := 0
	for i, v := range vectors.Vectors {
		g := got[i]
		if g.Name != v.Name {
			t.Fatalf("result %d is for %q, want %q", i, g.Name, v.Name)
		}
		if g.Token != v.Token {
			t.Errorf("vector %q: the documented signer makes\n  %s\nwant\n  %s", v.Name, g.Token, v.Token)
		}
		if g.CanonicalQuery != v.CanonicalQuery {
			t.Errorf("vector %q: canonical query %q, want %q", v.Name, g.CanonicalQuery, v.CanonicalQuery)
		}
		// A request the vector accepts is one the token was made for: for
		// an exact token, the same host, path and canonical query; for a
		// prefix token, any path under the prefix with any query.
		for _, c := range g.Checks {
			if c.Token != v.Token {
				t.Errorf("vector %q, accepted request %s: signed as received, the documented signer makes\n  %s\nwant\n  %s",
					v.Name, c.RequestURI, c.Token, v.Token)
			}
		}
		checked += len(g.Checks)
	}
	if checked == 0 {
		t.Error("no accepted request in the vectors' checks")
	}
}
