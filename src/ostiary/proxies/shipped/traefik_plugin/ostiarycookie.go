// Package ostiarycookie is Ostiary's Traefik middleware, loaded as a local
// plugin (experimental.localPlugins): Traefik interprets this source itself,
// nothing is downloaded. It does the two cookie jobs Traefik's own
// middlewares cannot (see Ostiary's docs/proxies/traefik.md):
//
//   - stripCookies: remove these cookies (comma-separated names, one string so
//     that a Docker label says it the same way) from the request's Cookie
//     headers: the forward-auth cookie never reaches the app; others pass;
//   - rewrites: apply a Go regexp to each value of a response header (the
//     chat's Set-Cookie gains Domain= for shared-cookie sign-on).
package ostiarycookie

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
)

// Rewrite replaces regex matches in every value of a response header.
type Rewrite struct {
	Header      string `json:"header,omitempty"`
	Regex       string `json:"regex,omitempty"`
	Replacement string `json:"replacement,omitempty"`
}

// Config is the middleware's dynamic configuration.
type Config struct {
	StripCookies string    `json:"stripCookies,omitempty"`
	Rewrites     []Rewrite `json:"rewrites,omitempty"`
}

// CreateConfig returns the empty configuration Traefik fills in.
func CreateConfig() *Config {
	return &Config{}
}

type rewrite struct {
	header      string
	re          *regexp.Regexp
	replacement string
}

type middleware struct {
	next     http.Handler
	strip    map[string]bool
	rewrites []rewrite
}

// New builds the middleware; a bad regexp refuses the configuration.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	m := &middleware{next: next, strip: map[string]bool{}}
	for _, cookie := range strings.Split(config.StripCookies, ",") {
		if name := strings.TrimSpace(cookie); name != "" {
			m.strip[name] = true
		}
	}
	for _, r := range config.Rewrites {
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s: rewrites regex %q: %w", name, r.Regex, err)
		}
		m.rewrites = append(m.rewrites, rewrite{http.CanonicalHeaderKey(r.Header), re, r.Replacement})
	}
	return m, nil
}

func (m *middleware) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if len(m.strip) > 0 {
		m.stripCookies(req)
	}
	if len(m.rewrites) == 0 {
		m.next.ServeHTTP(rw, req)
		return
	}
	m.next.ServeHTTP(&rewriter{ResponseWriter: rw, rewrites: m.rewrites}, req)
}

func (m *middleware) stripCookies(req *http.Request) {
	values := req.Header.Values("Cookie")
	if len(values) == 0 {
		return
	}
	var kept []string
	for _, value := range values {
		for _, part := range strings.Split(value, ";") {
			pair := strings.TrimSpace(part)
			if pair == "" {
				continue
			}
			name := pair
			if i := strings.Index(pair, "="); i >= 0 {
				name = strings.TrimSpace(pair[:i])
			}
			if !m.strip[name] {
				kept = append(kept, pair)
			}
		}
	}
	req.Header.Del("Cookie")
	if len(kept) > 0 {
		req.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}

type rewriter struct {
	http.ResponseWriter
	rewrites []rewrite
	wrote    bool
}

func (r *rewriter) WriteHeader(code int) {
	if !r.wrote {
		r.wrote = true
		header := r.ResponseWriter.Header()
		for _, rw := range r.rewrites {
			values := append([]string(nil), header.Values(rw.header)...)
			if len(values) == 0 {
				continue
			}
			header.Del(rw.header)
			for _, value := range values {
				header.Add(rw.header, rw.re.ReplaceAllString(value, rw.replacement))
			}
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *rewriter) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *rewriter) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *rewriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("%T cannot hijack", r.ResponseWriter)
	}
	return h.Hijack()
}
