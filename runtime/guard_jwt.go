package runtime

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTSettings configures a JWTVerifier. At least one of KeyFile, JWKSFile
// and SecretFile must be set.
type JWTSettings struct {
	// Algorithms lists the accepted "alg" header values, among HS256, RS256
	// and ES256. Empty means each of the three for which a key is loaded.
	// A token is verified only with keys of its algorithm's type, so an
	// RSA public key is never used as an HMAC secret.
	Algorithms []string
	// KeyFile is a PEM file of RSA or ECDSA P-256 public keys ("PUBLIC
	// KEY", "RSA PUBLIC KEY") or certificates ("CERTIFICATE"). Keys from
	// it have no key ID, so they are tried for every token of their type.
	KeyFile string
	// JWKSFile is a JSON Web Key Set file (RFC 7517 §5) with RSA, EC P-256
	// or "oct" (HMAC) keys. A token whose header has a "kid" is verified
	// only with the key of that ID. Keys whose "use" is not "sig" are
	// skipped.
	JWKSFile string
	// SecretFile holds the shared HS256 secret as raw bytes; one trailing
	// newline is removed. It must be at least 32 bytes, the size of the
	// SHA-256 output (RFC 7518 §3.2).
	SecretFile string
	// Issuer, when not empty, must equal the token's "iss" claim.
	Issuer string
	// Audience, when not empty, lists accepted audiences: the token's "aud"
	// claim must contain one of them.
	Audience []string
	// ClockSkew is the leeway allowed when checking "exp" and "nbf"
	// against this machine's clock. Zero means 30 s; negative means none.
	ClockSkew time.Duration
}

// DefaultJWTClockSkew is the default of JWTSettings.ClockSkew.
const DefaultJWTClockSkew = 30 * time.Second

// minRSABits is the smallest accepted RSA modulus, the usual minimum for
// signature keys today.
const minRSABits = 2048

// jwtKey is one verification key with what selects it.
type jwtKey struct {
	id  string // "kid", empty when the source has none
	alg string // algorithm the key is for: HS256, RS256 or ES256
	key any    // []byte, *rsa.PublicKey or *ecdsa.PublicKey
}

// JWTVerifier verifies signed JWTs (JWS compact serialization) and their
// registered claims. The "exp" claim is required; "exp", "nbf", "iss" and
// "aud" are checked. It is immutable and safe for concurrent use, and
// several routes may share one.
type JWTVerifier struct {
	keys   []jwtKey
	parser *jwt.Parser
}

var supportedJWTAlgorithms = []string{"HS256", "RS256", "ES256"}

// NewJWTVerifier loads the keys of set and returns the verifier. It fails
// when a file cannot be read or parsed, when no usable key is found, or
// when Algorithms names an algorithm other than HS256, RS256 and ES256 or
// one that no loaded key can verify.
func NewJWTVerifier(set JWTSettings) (*JWTVerifier, error) {
	if set.KeyFile == "" && set.JWKSFile == "" && set.SecretFile == "" {
		return nil, errors.New("JWT verification needs a key file, a JWKS file or a secret file")
	}
	var keys []jwtKey
	if set.KeyFile != "" {
		k, err := readPEMKeys(set.KeyFile)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	if set.JWKSFile != "" {
		k, err := readJWKSFile(set.JWKSFile)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	if set.SecretFile != "" {
		k, err := readSecretFile(set.SecretFile)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}

	algs := set.Algorithms
	if len(algs) == 0 {
		for _, alg := range supportedJWTAlgorithms {
			if slices.ContainsFunc(keys, func(k jwtKey) bool { return k.alg == alg }) {
				algs = append(algs, alg)
			}
		}
	}
	if len(algs) == 0 {
		return nil, errors.New("JWT key files contain no usable key")
	}
	for _, alg := range algs {
		if !slices.Contains(supportedJWTAlgorithms, alg) {
			return nil, fmt.Errorf("JWT algorithm %q is not supported; use HS256, RS256 or ES256", alg)
		}
		if !slices.ContainsFunc(keys, func(k jwtKey) bool { return k.alg == alg }) {
			return nil, fmt.Errorf("JWT algorithm %s is accepted but no %s key is loaded", alg, alg)
		}
	}

	skew := set.ClockSkew
	if skew == 0 {
		skew = DefaultJWTClockSkew
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(max(skew, 0)),
		jwt.WithExpirationRequired(),
	}
	if set.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(set.Issuer))
	}
	if len(set.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(set.Audience...))
	}
	return &JWTVerifier{keys: keys, parser: jwt.NewParser(opts...)}, nil
}

// Verify checks token's signature and claims and returns its Principal,
// named after the "sub" claim. Errors wrap golang-jwt's sentinel errors
// (jwt.ErrTokenExpired, jwt.ErrTokenInvalidAudience, ...).
func (v *JWTVerifier) Verify(token string) (*Principal, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFor); err != nil {
		return nil, err
	}
	sub, _ := claims["sub"].(string)
	return &Principal{Kind: PrincipalJWT, Name: sub, Claims: claims, named: true}, nil
}

// keyFor returns the keys that may have signed t: those of its algorithm
// and, when its header names a "kid", of that ID.
func (v *JWTVerifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range v.keys {
		if k.alg != alg || (kid != "" && k.id != "" && k.id != kid) {
			continue
		}
		set.Keys = append(set.Keys, k.key)
	}
	if len(set.Keys) == 0 {
		if kid != "" {
			return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
		}
		return nil, fmt.Errorf("no %s key", alg)
	}
	return set, nil
}

// readPEMKeys reads the public keys and certificates of a PEM file.
func readPEMKeys(path string) ([]jwtKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JWT key file: %w", err)
	}
	var keys []jwtKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			err = fmt.Errorf("PEM type %q is not a public key; write PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE blocks", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("JWT key file %s, PEM block %d: %w", path, n, err)
		}
		k, err := publicJWTKey(pub)
		if err != nil {
			return nil, fmt.Errorf("JWT key file %s, PEM block %d: %w", path, n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWT key file %s contains no PEM block", path)
	}
	return keys, nil
}

// publicJWTKey checks a parsed public key and pairs it with its algorithm.
func publicJWTKey(pub any) (jwtKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return jwtKey{}, fmt.Errorf("RSA key has %d bits; at least %d are required", k.N.BitLen(), minRSABits)
		}
		return jwtKey{alg: "RS256", key: k}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jwtKey{}, fmt.Errorf("ECDSA key is on curve %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return jwtKey{alg: "ES256", key: k}, nil
	}
	return jwtKey{}, fmt.Errorf("key type %T is not supported; use RSA or ECDSA P-256", pub)
}

// readSecretFile reads an HS256 secret.
func readSecretFile(path string) (jwtKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return jwtKey{}, fmt.Errorf("read JWT secret file: %w", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) < 32 {
		return jwtKey{}, fmt.Errorf("JWT secret file %s holds %d bytes; HS256 needs at least 32", path, len(data))
	}
	return jwtKey{alg: "HS256", key: data}, nil
}

// jwk is the subset of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) that
// megaflow reads. Binary members are base64url without padding.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// oct
	K string `json:"k"`
}

// readJWKSFile reads the signature keys of a JWKS file. It skips keys
// whose type or curve megaflow does not verify, and fails on a malformed
// key of a supported type.
func readJWKSFile(path string) ([]jwtKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JWKS file: %w", err)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS file %s: %w", path, err)
	}
	var keys []jwtKey
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k, ok, err := j.parse()
		if err != nil {
			return nil, fmt.Errorf("JWKS file %s, key %d (kid %q): %w", path, i, j.Kid, err)
		}
		if !ok {
			continue
		}
		if j.Alg != "" && j.Alg != k.alg {
			continue
		}
		k.id = j.Kid
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS file %s has no RSA, EC P-256 or oct signature key", path)
	}
	return keys, nil
}

// parse decodes the key. ok is false for a key type or curve that
// megaflow does not verify.
func (j *jwk) parse() (k jwtKey, ok bool, err error) {
	b64 := base64.RawURLEncoding
	switch j.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return k, false, fmt.Errorf("RSA key: %w", err)
		}
		if len(e) == 0 || len(e) > 4 {
			return k, false, fmt.Errorf("RSA exponent has %d bytes", len(e))
		}
		exp := new(big.Int).SetBytes(e)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}
		k, err = publicJWTKey(pub)
		return k, err == nil, err
	case "EC":
		if j.Crv != "P-256" {
			return k, false, nil
		}
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err := errors.Join(err1, err2); err != nil {
			return k, false, fmt.Errorf("EC key: %w", err)
		}
		if len(x) != 32 || len(y) != 32 {
			return k, false, errors.New("EC P-256 coordinates must be 32 bytes each")
		}
		point := append(append([]byte{4}, x...), y...) // SEC 1 uncompressed form
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return k, false, fmt.Errorf("EC key: %w", err)
		}
		return jwtKey{alg: "ES256", key: pub}, true, nil
	case "oct":
		secret, err := b64.DecodeString(j.K)
		if err != nil {
			return k, false, fmt.Errorf("oct key: %w", err)
		}
		if len(secret) < 32 {
			return k, false, fmt.Errorf("oct key has %d bytes; HS256 needs at least 32", len(secret))
		}
		return jwtKey{alg: "HS256", key: secret}, true, nil
	}
	return k, false, nil
}
