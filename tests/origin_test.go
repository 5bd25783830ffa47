package tests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// originMode says how a recordingOrigin answers.
type originMode int

const (
	// answerOK answers 200 to every request.
	answerOK originMode = iota
	// switchOnUpgrade answers 101 (echoing the protocol asked for) to a
	// request with an Upgrade header, as an h2c or WebSocket server does,
	// and then treats the connection as a tunnel.
	switchOnUpgrade
	// switchAlways answers 101 with `Upgrade: websocket` to every request,
	// asked for or not, and then treats the connection as a tunnel.
	switchAlways
	// switchAlwaysBare answers a bare 101 (no Upgrade, no Connection) to
	// every request, and then treats the connection as a tunnel.
	switchAlwaysBare
)

// originRequest is one request as the origin parsed it.
type originRequest struct {
	Method, RequestURI string
	Header             http.Header
	Trailer            http.Header // announced and received trailers
	Body               []byte
	ContentLength      int64
	TransferEncoding   []string
	// Tunnelled is set for requests that arrived on a connection after the
	// origin had switched protocols on it: they never went through Signet.
	Tunnelled bool
}

func (r originRequest) String() string {
	s := r.Method + " " + r.RequestURI
	if r.Tunnelled {
		s += " (through a tunnel)"
	}
	return s
}

// recordingOrigin is an HTTP/1.1 origin on a raw loopback listener. It
// keeps every byte it receives, on every connection (before and after a
// protocol switch), and every request it can parse, with its body and
// trailers read to the end.
type recordingOrigin struct {
	t    testing.TB
	ln   net.Listener
	mode originMode

	mu       sync.Mutex
	raw      []*bytes.Buffer // one per connection, in accept order
	requests []originRequest
	switched int // 101 responses sent
}

// startOrigin listens on a free loopback port until the test ends.
func startOrigin(t testing.TB, mode originMode) *recordingOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &recordingOrigin{t: t, ln: ln, mode: mode}
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var cmu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			cmu.Lock()
			conns[c] = true
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				o.serve(c)
				cmu.Lock()
				delete(conns, c)
				cmu.Unlock()
			}()
		}
	}()
	return o
}

// Addr is the origin's host:port, for `reverse_proxy`.
func (o *recordingOrigin) Addr() string { return o.ln.Addr().String() }

// reset forgets what was received so far (connections stay open).
func (o *recordingOrigin) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range o.raw {
		b.Reset()
	}
	o.requests = nil
	o.switched = 0
}

// Requests returns the requests received since the last reset.
func (o *recordingOrigin) Requests() []originRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]originRequest(nil), o.requests...)
}

// Raw returns every byte received since the last reset, connection after
// connection.
func (o *recordingOrigin) Raw() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var s strings.Builder
	for _, b := range o.raw {
		s.Write(b.Bytes())
	}
	return s.String()
}

// Switched returns how many 101 responses the origin sent since the last
// reset.
func (o *recordingOrigin) Switched() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.switched
}

// connRecorder appends what a connection delivers to its buffer.
type connRecorder struct {
	o   *recordingOrigin
	buf *bytes.Buffer
}

func (w connRecorder) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	return w.buf.Write(p)
}

func (o *recordingOrigin) serve(c net.Conn) {
	defer c.Close()
	buf := new(bytes.Buffer)
	o.mu.Lock()
	o.raw = append(o.raw, buf)
	o.mu.Unlock()
	br := bufio.NewReader(io.TeeReader(c, connRecorder{o, buf}))
	tunnel := false
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if tunnel {
				// Not HTTP/1 (an h2 preface, a WebSocket frame): keep
				// recording whatever comes through the tunnel.
				_, _ = io.Copy(io.Discard, br)
			}
			return
		}
		body, _ := io.ReadAll(req.Body) // reading to the end fills req.Trailer
		rec := originRequest{
			Method: req.Method, RequestURI: req.RequestURI, Header: req.Header, Trailer: req.Trailer,
			Body: body, ContentLength: req.ContentLength, TransferEncoding: req.TransferEncoding, Tunnelled: tunnel,
		}
		var answer string
		switch {
		case tunnel:
			answer = okResponse(req.Method, "tunnelled to the origin: "+req.RequestURI)
		case o.mode == switchOnUpgrade && req.Header.Get("Upgrade") != "":
			answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + req.Header.Get("Upgrade") + "\r\nConnection: Upgrade\r\n"
			if strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
				answer += "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			}
			answer += "\r\n"
		case o.mode == switchAlways:
			answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
		case o.mode == switchAlwaysBare:
			answer = "HTTP/1.1 101 Switching Protocols\r\n\r\n"
		default:
			answer = okResponse(req.Method, "origin: "+req.RequestURI)
		}
		o.mu.Lock()
		o.requests = append(o.requests, rec)
		if strings.HasPrefix(answer, "HTTP/1.1 101") {
			o.switched++
			tunnel = true
		}
		o.mu.Unlock()
		if _, err := io.WriteString(c, answer); err != nil {
			return
		}
	}
}

func okResponse(method, body string) string {
	s := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(body))
	if method != http.MethodHead {
		s += body
	}
	return s
}

// rawConn is a client connection to Caddy on which the test writes exact
// bytes and reads the responses.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialRaw connects to addr (host:port). The connection gets a deadline so
// that a hung exchange fails the test instead of stalling it.
func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes s as is.
func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("writing to Caddy: %v", err)
	}
}

// roundTrip writes s and reads one response to a request of method.
func (rc *rawConn) roundTrip(method, s string) (response, error) {
	rc.t.Helper()
	rc.send(s)
	return rc.read(method)
}

// read reads one response to a request of method.
func (rc *rawConn) read(method string) (response, error) {
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// rawRequest spells an HTTP/1.1 request: the request line, Host, the
// header lines as given ("Name: value"), a blank line, then body as is.
func rawRequest(method, target, host string, headers []string, body string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for _, h := range headers {
		s.WriteString(h + "\r\n")
	}
	s.WriteString("\r\n")
	s.WriteString(body)
	return s.String()
}
