package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// CheckConfig configures Check, the client side of --web.config.file.
type CheckConfig struct {
	// WebConfigFile is the server's --web.config.file; empty means plain
	// HTTP without authentication.
	WebConfigFile string
	// Username and Password answer the basic auth the web config asks for.
	// Username may be empty when the config names exactly one user.
	Username, Password string
}

// webConfigFile is the part of exporter-toolkit's web configuration a
// client needs: whether TLS is on (and with which certificate) and whether
// basic auth is asked for.
type webConfigFile struct {
	TLS struct {
		Cert       string `yaml:"cert"`
		CertFile   string `yaml:"cert_file"`
		ClientAuth string `yaml:"client_auth_type"`
	} `yaml:"tls_server_config"`
	Users map[string]string `yaml:"basic_auth_users"`
}

// Check GETs target as the healthchecks of compose do, and fails unless the
// answer is 2xx. With the component's web config it speaks TLS when the
// server does (an http:// target becomes https://), trusting exactly the
// certificate the server is configured with (the check runs beside the
// server, under whatever host name reaches it), and sends basic auth when
// the server asks for it.
func Check(ctx context.Context, target string, cfg CheckConfig) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("healthcheck url %q: want http://host:port/path", target)
	}
	client := &http.Client{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "", nil)
	if err != nil {
		return fmt.Errorf("healthcheck request: %w", err)
	}
	if cfg.WebConfigFile != "" {
		wc, err := readWebConfig(cfg.WebConfigFile)
		if err != nil {
			return err
		}
		if err := wc.apply(cfg, u, req, client); err != nil {
			return err
		}
	}
	req.URL = u
	req.Host = u.Host
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck %s: %s: %s", u, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

func readWebConfig(path string) (*webConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read web config: %w", err)
	}
	var wc webConfigFile
	if err := yaml.Unmarshal(data, &wc); err != nil {
		return nil, fmt.Errorf("parse web config %s: %w", path, err)
	}
	if wc.TLS.CertFile != "" && !filepath.IsAbs(wc.TLS.CertFile) {
		// exporter-toolkit reads relative paths from the config's folder.
		wc.TLS.CertFile = filepath.Join(filepath.Dir(path), wc.TLS.CertFile)
	}
	return &wc, nil
}

// apply sets the scheme, the pinned certificate and the credentials.
func (wc *webConfigFile) apply(cfg CheckConfig, u *url.URL, req *http.Request, client *http.Client) error {
	if wc.TLS.CertFile != "" || wc.TLS.Cert != "" {
		switch wc.TLS.ClientAuth {
		case "", "NoClientCert", "RequestClientCert", "VerifyClientCertIfGiven":
		default:
			return fmt.Errorf("web config asks clients for certificates (client_auth_type %s): the healthcheck has none", wc.TLS.ClientAuth)
		}
		leaf, err := wc.leafCertificate()
		if err != nil {
			return err
		}
		u.Scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: pinnedTLS(leaf)}
	}
	if len(wc.Users) == 0 {
		return nil
	}
	user := cfg.Username
	if user == "" {
		if len(wc.Users) != 1 {
			names := make([]string, 0, len(wc.Users))
			for n := range wc.Users {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("web config has users %v: name one with --healthcheck.user", names)
		}
		for n := range wc.Users {
			user = n
		}
	}
	if _, ok := wc.Users[user]; !ok {
		return fmt.Errorf("web config has no user %q", user)
	}
	if cfg.Password == "" {
		return errors.New("web config asks for basic auth: set BATCHWATCH_HEALTHCHECK_PASSWORD")
	}
	req.SetBasicAuth(user, cfg.Password)
	return nil
}

// leafCertificate returns the DER of the first certificate the server
// presents.
func (wc *webConfigFile) leafCertificate() ([]byte, error) {
	data := []byte(wc.TLS.Cert)
	if wc.TLS.CertFile != "" {
		var err error
		if data, err = os.ReadFile(wc.TLS.CertFile); err != nil {
			return nil, fmt.Errorf("read server certificate: %w", err)
		}
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("server certificate: no PEM certificate found")
	}
	return block.Bytes, nil
}

// pinnedTLS accepts exactly the server certificate leaf: name checks would
// fail under the loopback address a healthcheck uses, and the pin is
// stricter than a CA anyway.
func pinnedTLS(leaf []byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate's pin
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
				return errors.New("server certificate is not the one of the web config")
			}
			return nil
		},
	}
}
