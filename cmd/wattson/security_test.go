package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/ocpp"
	"github.com/wattson-csms/wattson/ocpp/v16"
)

const testAdmin = "admin-token-for-tests"

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wattson test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSecurityProfile2 runs the server with TLS, sets a charger password
// through the API and checks that the charger gets in only with it.
func TestSecurityProfile2(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	addr := startServe(t, "-tls-cert", certFile, "-tls-key", keyFile, "-admin-token", testAdmin, "-unknown-chargers", "accept")
	tlsCfg := &tls.Config{RootCAs: pool}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}

	req, _ := http.NewRequest(http.MethodPut, "https://"+addr+"/api/v1/chargers/SECURE-1", strings.NewReader(`{"registration":"Accepted","password":"correct-horse-battery"}`))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("setting the password: %d", resp.StatusCode)
	}

	dial := func(user, pass string) (*ocpp.Conn, error) {
		h := http.Header{}
		if user != "" {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return ocpp.Dial(ctx, "wss://"+addr+"/ocpp/SECURE-1", ocpp.DialOptions{
			Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}, Header: h, TLSConfig: tlsCfg,
		})
	}
	for _, bad := range [][2]string{{"", ""}, {"SECURE-1", "wrong"}, {"OTHER", "correct-horse-battery"}} {
		if c, err := dial(bad[0], bad[1]); err == nil {
			c.Close()
			t.Errorf("user %q password %q got in", bad[0], bad[1])
		} else if !strings.Contains(err.Error(), "401") {
			t.Errorf("user %q: want HTTP 401, got %v", bad[0], err)
		}
	}
	for i := 0; i < 2; i++ { // the second time from the verified-password cache
		c, err := dial("SECURE-1", "correct-horse-battery")
		if err != nil {
			t.Fatalf("right password refused: %v", err)
		}
		if _, err := v16.CallHeartbeat(context.Background(), c, &v16.HeartbeatRequest{}); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// A charger without a password connects freely (profile 0/1 without one).
	ctx := context.Background()
	c, err := ocpp.Dial(ctx, "wss://"+addr+"/ocpp/OPEN-1", ocpp.DialOptions{Subprotocols: []ocpp.Subprotocol{{Name: "ocpp1.6"}}, TLSConfig: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
