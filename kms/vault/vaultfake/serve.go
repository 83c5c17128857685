package vaultfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// route is what a request asks for.
type route struct {
	op    string
	mount string // the Transit mount, for Transit operations
	name  string // the key, or the mount path for OpMounts
	err   int    // 404 or 405 when the path or method matches nothing
	msg   string
}

// keyName is Transit's framework.GenericNameRegex.
var keyName = regexp.MustCompile(`^\w([\w.@-]*\w)?$`)

// route resolves p (without /v1/). The caller holds the lock.
func (f *Fake) route(method, p string) route {
	switch {
	case p == "sys/health":
		return route{op: OpHealth}
	case p == "sys/mounts":
		return route{op: OpMounts}
	case strings.HasPrefix(p, "sys/mounts/"):
		return route{op: OpMounts, name: strings.Trim(strings.TrimPrefix(p, "sys/mounts/"), "/")}
	}
	mount := ""
	for m, typ := range f.mounts {
		if typ == "transit" && strings.HasPrefix(p, m+"/") && len(m) > len(mount) {
			mount = m
		}
	}
	if mount == "" {
		return route{op: OpUnsupported, err: http.StatusNotFound, msg: fmt.Sprintf("no handler for route %q. route entry not found.", p)}
	}
	parts := strings.Split(strings.TrimPrefix(p, mount+"/"), "/")
	unsupported := route{op: OpUnsupported, err: http.StatusNotFound, msg: msgUnsupportedPath}
	if len(parts) < 2 || !keyName.MatchString(parts[1]) {
		return unsupported
	}
	r := route{mount: mount, name: parts[1]}
	write := method == http.MethodPost || method == http.MethodPut
	switch {
	case len(parts) == 2 && parts[0] == "keys":
		switch method {
		case http.MethodGet:
			r.op = OpKeyRead
		case http.MethodDelete:
			r.op = OpKeyDelete
		default:
			r.op = OpKeyCreate
		}
	case len(parts) == 3 && parts[0] == "keys" && parts[2] == "config":
		r.op = OpKeyConfig
	case len(parts) == 3 && parts[0] == "keys" && parts[2] == "rotate":
		r.op = OpKeyRotate
	case len(parts) == 2 && parts[0] == "encrypt":
		r.op = OpEncrypt
	case len(parts) == 2 && parts[0] == "decrypt":
		r.op = OpDecrypt
	case len(parts) == 2 && parts[0] == "rewrap":
		r.op = OpRewrap
	default:
		return unsupported
	}
	if r.op != OpKeyRead && r.op != OpKeyDelete && !write {
		r.err, r.msg = http.StatusMethodNotAllowed, "unsupported operation"
	}
	return r
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound, "404 page not found")
		return
	}
	// Read the body first: until it is read, the server does not notice a
	// client that hung up, and a hook waiting on r.Context() would wait.
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	rt := f.route(r.Method, p)
	f.calls[rt.op]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		if status, errs := hook(r, rt.op); status != 0 {
			writeErrors(w, status, errs...)
			return
		}
	}
	if rt.op == OpHealth {
		f.health(w, r)
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sealed {
		writeErrors(w, http.StatusServiceUnavailable, msgSealed)
		return
	}
	switch tok := r.Header.Get("X-Vault-Token"); {
	case tok == RootToken:
	case f.tokens[tok] != nil:
		if !f.tokens[tok](r.Method, p) {
			writeErrors(w, http.StatusForbidden, msgACLPermission)
			return
		}
	default:
		writeErrors(w, http.StatusForbidden, msgPermission)
		return
	}
	if rt.err != 0 {
		writeErrors(w, rt.err, rt.msg)
		return
	}
	var body map[string]any
	if len(raw) > 0 && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeErrors(w, http.StatusBadRequest, "error parsing JSON")
			return
		}
	}
	if body == nil {
		body = map[string]any{}
	}

	var (
		status = http.StatusOK
		data   map[string]any
		warns  []string
		err    error
	)
	switch rt.op {
	case OpMounts:
		status, data, err = f.mountsOp(r.Method, rt.name, body)
	case OpKeyCreate:
		data, warns, err = f.createKey(rt, body)
	case OpKeyRead:
		k := f.keys[rt.mount][rt.name]
		if k == nil {
			writeErrors(w, http.StatusNotFound) // {"errors":[]}
			return
		}
		data = k.info()
	case OpKeyDelete:
		status, err = f.deleteKey(rt)
	case OpKeyConfig:
		data, warns, err = f.configKey(rt, body)
	case OpKeyRotate:
		k := f.keys[rt.mount][rt.name]
		if k == nil {
			err = userError("key not found")
			break
		}
		k.rotate(time.Now())
		data = k.info()
	case OpEncrypt:
		data, err = f.encrypt(rt, body)
	case OpDecrypt:
		data, err = f.decrypt(rt, body)
	case OpRewrap:
		data, err = f.rewrap(rt, body)
	}
	var ue userError
	switch {
	case errors.As(err, &ue):
		writeErrors(w, http.StatusBadRequest, ue.Error())
	case err != nil:
		writeErrors(w, http.StatusInternalServerError, err.Error())
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeSecret(w, status, data, warns)
	}
}

// health answers sys/health like Vault: 200 when unsealed, else the
// sealedcode parameter or 503, with the health document either way.
func (f *Fake) health(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	sealed := f.sealed
	f.mu.Unlock()
	status := http.StatusOK
	if sealed {
		status = http.StatusServiceUnavailable
		if c, err := strconv.Atoi(r.URL.Query().Get("sealedcode")); err == nil {
			status = c
		}
	} else if c, err := strconv.Atoi(r.URL.Query().Get("activecode")); err == nil {
		status = c
	}
	writeJSON(w, status, map[string]any{
		"initialized":                  true,
		"sealed":                       sealed,
		"standby":                      false,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              time.Now().Unix(),
		"version":                      Version,
		"enterprise":                   false,
		"cluster_name":                 "vaultfake",
		"cluster_id":                   "00000000-0000-0000-0000-000000000000",
	})
}

func (f *Fake) mountsOp(method, path string, body map[string]any) (int, map[string]any, error) {
	switch {
	case path == "" && method == http.MethodGet:
		data := map[string]any{}
		for m, typ := range f.mounts {
			data[m+"/"] = map[string]any{
				"type":        typ,
				"description": "",
				"accessor":    typ + "_" + randomHex(4),
				"config":      map[string]any{"default_lease_ttl": 0, "max_lease_ttl": 0},
				"local":       false,
				"seal_wrap":   false,
			}
		}
		return http.StatusOK, data, nil
	case path != "" && (method == http.MethodPost || method == http.MethodPut):
		if _, ok := f.mounts[path]; ok {
			return 0, nil, errorf("path is already in use at %s/", path)
		}
		typ, _ := body["type"].(string)
		if typ == "" {
			return 0, nil, userError("backend type must be specified as a string")
		}
		f.mounts[path] = typ
		return http.StatusNoContent, nil, nil
	case path != "" && method == http.MethodDelete:
		delete(f.mounts, path)
		delete(f.keys, path)
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, userError("unsupported operation")
}

// unknownParams returns Vault's warning about parameters the endpoint does
// not know, nil if there are none.
func unknownParams(body map[string]any, known ...string) []string {
	var unknown []string
	for k := range body {
		found := false
		for _, kn := range known {
			found = found || k == kn
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return []string{fmt.Sprintf("Endpoint ignored these unrecognized parameters: [%s]", strings.Join(unknown, " "))}
}

var keyTypes = map[string]bool{"aes128-gcm96": true, "aes256-gcm96": true, "chacha20-poly1305": true}

func (f *Fake) createKey(rt route, body map[string]any) (map[string]any, []string, error) {
	warns := unknownParams(body, "type", "derived", "exportable", "allow_plaintext_backup", "convergent_encryption", "context", "auto_rotate_period", "key_size")
	if k := f.keys[rt.mount][rt.name]; k != nil {
		return k.info(), append(warns, fmt.Sprintf("key %s already existed", rt.name)), nil
	}
	typ := stringParam(body, "type", "aes256-gcm96")
	if !keyTypes[typ] {
		return nil, nil, errorf("unknown key type %v", typ)
	}
	derived, err := boolParam(body, "derived")
	if err != nil {
		return nil, nil, err
	}
	k := newKey(rt.name, typ, derived, time.Now())
	if k.exportable, err = boolParam(body, "exportable"); err != nil {
		return nil, nil, err
	}
	if k.allowPlaintextBackup, err = boolParam(body, "allow_plaintext_backup"); err != nil {
		return nil, nil, err
	}
	f.putKey(rt.mount, k)
	return k.info(), warns, nil
}

func (f *Fake) putKey(mount string, k *key) {
	if f.keys[mount] == nil {
		f.keys[mount] = map[string]*key{}
	}
	f.keys[mount][k.name] = k
}

func (f *Fake) deleteKey(rt route) (int, error) {
	k := f.keys[rt.mount][rt.name]
	switch {
	case k == nil:
		return 0, errorf("error deleting policy %s: could not delete key; not found", rt.name)
	case !k.deletionAllowed:
		return 0, errorf("error deleting policy %s: deletion is not allowed for this key", rt.name)
	}
	for _, m := range k.versions {
		clear(m)
	}
	delete(f.keys[rt.mount], rt.name)
	return http.StatusNoContent, nil
}

func (f *Fake) configKey(rt route, body map[string]any) (map[string]any, []string, error) {
	k := f.keys[rt.mount][rt.name]
	if k == nil {
		return nil, nil, errorf("no existing key named %s could be found", rt.name)
	}
	warns := unknownParams(body, "min_decryption_version", "min_encryption_version", "deletion_allowed", "exportable", "allow_plaintext_backup", "auto_rotate_period")
	nk := *k // applied only if every parameter is valid
	if v, ok, err := intParam(body, "min_decryption_version"); err != nil {
		return nil, nil, err
	} else if ok {
		switch {
		case v < 0:
			return nil, nil, userError("min decryption version cannot be negative")
		case v == 0:
			v = 1
		case v > k.latest:
			return nil, nil, errorf("cannot set min decryption version of %d, latest key version is %d", v, k.latest)
		}
		nk.minDecryptionVersion = v
	}
	if v, ok, err := intParam(body, "min_encryption_version"); err != nil {
		return nil, nil, err
	} else if ok {
		switch {
		case v < 0:
			return nil, nil, userError("min encryption version cannot be negative")
		case v > k.latest:
			return nil, nil, errorf("cannot set min encryption version of %d, latest key version is %d", v, k.latest)
		}
		nk.minEncryptionVersion = v
	}
	if nk.minEncryptionVersion > 0 && nk.minDecryptionVersion > nk.minEncryptionVersion {
		return nil, nil, userError("cannot set min encryption/decryption values; min decryption version cannot be greater than min encryption version")
	}
	if _, ok := body["deletion_allowed"]; ok {
		v, err := boolParam(body, "deletion_allowed")
		if err != nil {
			return nil, nil, err
		}
		nk.deletionAllowed = v
	}
	if _, ok := body["exportable"]; ok {
		v, err := boolParam(body, "exportable")
		if err != nil {
			return nil, nil, err
		}
		if k.exportable && !v {
			return nil, nil, userError("exportability cannot be disabled after enabled")
		}
		nk.exportable = v
	}
	if _, ok := body["allow_plaintext_backup"]; ok {
		v, err := boolParam(body, "allow_plaintext_backup")
		if err != nil {
			return nil, nil, err
		}
		if k.allowPlaintextBackup && !v {
			return nil, nil, userError("plaintext backup cannot be disabled after enabled")
		}
		nk.allowPlaintextBackup = v
	}
	*k = nk
	return k.info(), warns, nil
}

// contextParam decodes the base64 "context" parameter ("" is none).
func contextParam(body map[string]any) ([]byte, error) {
	s := stringParam(body, "context", "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, userError(err.Error())
	}
	return b, nil
}

func (f *Fake) encrypt(rt route, body map[string]any) (map[string]any, error) {
	if _, ok := body["batch_input"]; ok {
		return nil, userError("vaultfake: batch_input is not supported")
	}
	p64, ok := body["plaintext"].(string)
	if !ok {
		return nil, userError("missing plaintext to encrypt")
	}
	pt, err := base64.StdEncoding.DecodeString(p64)
	if err != nil {
		return nil, userError(err.Error()) // "illegal base64 data at input byte N"
	}
	ctx, err := contextParam(body)
	if err != nil {
		return nil, err
	}
	k := f.keys[rt.mount][rt.name]
	if k == nil {
		// Upsert, as Vault does: a missing key is created, derived when a
		// context came with the request.
		typ := stringParam(body, "type", "aes256-gcm96")
		if !keyTypes[typ] {
			return nil, errorf("unknown key type %v", typ)
		}
		k = newKey(rt.name, typ, len(ctx) > 0, time.Now())
		f.putKey(rt.mount, k)
	}
	ct, ver, err := k.encrypt(ctx, pt)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ciphertext": ct, "key_version": ver}, nil
}

// open decrypts the request's ciphertext with the route's key, for the
// operation op (decrypt or rewrap), returning the key and the context too.
func (f *Fake) open(rt route, body map[string]any, op string) (*key, []byte, []byte, error) {
	ct, ok := body["ciphertext"].(string)
	if !ok {
		return nil, nil, nil, userError("missing ciphertext to " + op)
	}
	k := f.keys[rt.mount][rt.name]
	if k == nil {
		return nil, nil, nil, userError(msgKeyNotFound)
	}
	ctx, err := contextParam(body)
	if err != nil {
		return nil, nil, nil, err
	}
	pt, err := k.decrypt(ctx, ct)
	return k, ctx, pt, err
}

func (f *Fake) decrypt(rt route, body map[string]any) (map[string]any, error) {
	_, _, pt, err := f.open(rt, body, "decrypt")
	if err != nil {
		return nil, err
	}
	return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}, nil
}

func (f *Fake) rewrap(rt route, body map[string]any) (map[string]any, error) {
	k, ctx, pt, err := f.open(rt, body, "rewrap")
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	nct, ver, err := k.encrypt(ctx, pt)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ciphertext": nct, "key_version": ver}, nil
}

// info is the data of GET <mount>/keys/<k>.
func (k *key) info() map[string]any {
	versions := map[string]any{}
	for v, t := range k.created {
		versions[strconv.Itoa(v)] = t.Unix()
	}
	d := map[string]any{
		"name":                   k.name,
		"type":                   k.typ,
		"derived":                k.derived,
		"exportable":             k.exportable,
		"allow_plaintext_backup": k.allowPlaintextBackup,
		"deletion_allowed":       k.deletionAllowed,
		"latest_version":         k.latest,
		"min_available_version":  0,
		"min_decryption_version": k.minDecryptionVersion,
		"min_encryption_version": k.minEncryptionVersion,
		"keys":                   versions,
		"supports_encryption":    true,
		"supports_decryption":    true,
		"supports_derivation":    true,
		"supports_signing":       false,
		"convergent_encryption":  false,
		"auto_rotate_period":     0,
		"imported_key":           false,
	}
	if k.derived {
		d["kdf"] = "hkdf_sha256"
	}
	return d
}

func stringParam(body map[string]any, name, def string) string {
	if s, ok := body[name].(string); ok && s != "" {
		return s
	}
	return def
}

// boolParam reads a bool given as JSON true/false or as a string, as Vault's
// field parser does; absent is false.
func boolParam(body map[string]any, name string) (bool, error) {
	switch v := body[name].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, errorf("error converting input %s for field %q: %v", v, name, err)
		}
		return b, nil
	}
	return false, errorf("error converting input %v for field %q", body[name], name)
}

// intParam reads an int given as a JSON number or a string.
func intParam(body map[string]any, name string) (int, bool, error) {
	v, ok := body[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false, errorf("error converting input %v for field %q", v, name)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, errorf("error converting input %s for field %q: %v", s, name, err)
	}
	return n, true, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

func writeSecret(w http.ResponseWriter, status int, data map[string]any, warnings []string) {
	writeJSON(w, status, map[string]any{
		"request_id":     randomHex(16),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       warnings,
		"auth":           nil,
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
