// Package vectorfile is the schema of the signed-URL test vectors,
// verifier/testdata/signed-url-vectors.json (docs/signed-urls.md): the
// file's comment says what each field means. The verifier's and the Go
// client's tests read it, and internal/vectorgen writes it. It imports
// nothing of Signet, so the verifier's own tests can use it.
package vectorfile

import (
	"encoding/json"
	"os"
)

// File is the whole file.
type File struct {
	Comment []string  `json:"comment"`
	Vectors []Vector  `json:"vectors"`
	Offline []Offline `json:"offline"`
}

// Policy is a link's policy, each field zero when unset; ClientCIDR is the
// network in its canonical text form.
type Policy struct {
	DownloadName string `json:"download_name"`
	Inline       bool   `json:"inline"`
	ContentType  string `json:"content_type"`
	MaxUses      uint32 `json:"max_uses"`
	ClientCIDR   string `json:"client_cidr"`
}

// Vector is a token signed with a ring secret for claims and a target.
type Vector struct {
	Name   string `json:"name"`
	Secret struct {
		ID     string `json:"id"`
		KeyHex string `json:"key_hex"`
	} `json:"secret"`
	Claims struct {
		ExpiresAt int64  `json:"expires_at"`
		IssuedAt  int64  `json:"issued_at"`
		ID        string `json:"id"`
		KeyID     string `json:"key_id"`
		Prefix    string `json:"prefix"`
		Policy    Policy `json:"policy"`
	} `json:"claims"`
	Target struct {
		Host     string `json:"host"`
		Method   string `json:"method"`
		Path     string `json:"path"`
		RawPath  string `json:"raw_path"`
		RawQuery string `json:"raw_query"`
	} `json:"target"`
	CanonicalQuery string  `json:"canonical_query"`
	MACInputHex    string  `json:"mac_input_hex"`
	Token          string  `json:"token"`
	Checks         []Check `json:"checks"`
}

// Check is a request verified with the vector's secret at a time, and the
// error expected ("" = success).
type Check struct {
	Method      string `json:"method"`
	Host        string `json:"host"`
	RequestURI  string `json:"request_uri"`
	Now         int64  `json:"now"`
	SkewSeconds int64  `json:"skew_seconds"`
	Error       string `json:"error"`
}

// Offline is a link signed with an API key: the signer's inputs and what
// it must produce.
type Offline struct {
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	KeyID     string `json:"key_id"`
	SecretHex string `json:"secret_hex"`
	Inputs    struct {
		BaseURL    string      `json:"base_url"`
		Path       string      `json:"path"`
		Query      string      `json:"query,omitempty"`
		QueryPairs [][2]string `json:"query_pairs,omitempty"`
		Folder     bool        `json:"folder"`
		Now        int64       `json:"now"`
		ExpiresIn  int64       `json:"expires_in"`
		URLID      string      `json:"url_id"`
		Param      string      `json:"param"`
		API        string      `json:"api"`
		Policies   Policy      `json:"policies"`
	} `json:"inputs"`
	Claims struct {
		ExpiresAt int64  `json:"expires_at"`
		IssuedAt  int64  `json:"issued_at"`
		Prefix    string `json:"prefix"`
	} `json:"claims"`
	MACInputHex string  `json:"mac_input_hex"`
	Token       string  `json:"token"`
	URL         string  `json:"url"`
	PathURL     string  `json:"path_url,omitempty"`
	Checks      []Check `json:"checks"`
}

// Read reads and decodes the vectors file at path.
func Read(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	var f File
	err = json.Unmarshal(data, &f)
	return f, err
}
