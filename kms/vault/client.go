package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// DefaultMount is the path the Transit secrets engine is mounted at unless
// Options.Mount says otherwise.
const DefaultMount = "transit"

// Options configure [New]. Every field left zero keeps what the standard
// Vault environment says (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
// VAULT_SKIP_VERIFY, VAULT_TLS_SERVER_NAME, VAULT_MAX_RETRIES,
// VAULT_CLIENT_TIMEOUT, VAULT_AGENT_ADDR, …, read by api.DefaultConfig), and
// then the api client's defaults.
type Options struct {
	// Address overrides VAULT_ADDR and VAULT_AGENT_ADDR (default
	// https://127.0.0.1:8200).
	Address string
	// Token overrides VAULT_TOKEN. With neither, the token the vault CLI
	// stored in ~/.vault-token (`vault login`) is used, if any.
	Token string
	// Namespace overrides VAULT_NAMESPACE (Vault Enterprise / HCP).
	Namespace string
	// CACert, a PEM file, overrides VAULT_CACERT and VAULT_CAPATH.
	CACert string
	// Mount is the path of the Transit secrets engine (default "transit").
	Mount string
	// MaxRetries is the number of retries after a connection error, a 5xx
	// (except 501, and 503 "Vault is sealed", never retried) or a 429. 0
	// keeps VAULT_MAX_RETRIES or the api client's default, 2; a negative
	// value disables retries.
	MaxRetries int
	// RetryWait, if > 0, is the shortest wait before a retry (the longest
	// is 1.5 times it); the api client's default is 1 s.
	RetryWait time.Duration
	// Timeout, if > 0, bounds each call, its retries included; 0 keeps
	// VAULT_CLIENT_TIMEOUT or the api client's default, 60 s.
	Timeout time.Duration
}

// Client performs chatvault's Transit operations. It is safe for concurrent
// use.
type Client struct {
	api   *api.Client
	mount string
}

// New returns a Client of the Vault server the environment and o name. It
// makes no network call.
func New(o Options) (*Client, error) {
	mount, err := cleanMount(o.Mount)
	if err != nil {
		return nil, err
	}
	cfg := api.DefaultConfig() // reads the VAULT_* environment
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault: reading the VAULT_* environment: %w", cfg.Error)
	}
	if o.Address != "" {
		cfg.Address = o.Address
		cfg.AgentAddress = "" // VAULT_AGENT_ADDR would win over Address
	}
	if o.CACert != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: o.CACert}); err != nil {
			return nil, fmt.Errorf("vault: CA certificate %s: %w", o.CACert, err)
		}
	}
	switch {
	case o.MaxRetries > 0:
		cfg.MaxRetries = o.MaxRetries
	case o.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if o.RetryWait > 0 {
		cfg.MinRetryWait = o.RetryWait
		cfg.MaxRetryWait = o.RetryWait + o.RetryWait/2
	}
	if o.Timeout > 0 {
		cfg.Timeout = o.Timeout
	}
	cfg.CheckRetry = retryPolicy
	c, err := api.NewClient(cfg) // reads VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS
	if err != nil {
		return nil, fmt.Errorf("vault: configuring the client: %w", err)
	}
	if o.Token != "" {
		c.SetToken(o.Token)
	}
	if c.Token() == "" {
		if tok := cliToken(); tok != "" {
			c.SetToken(tok)
		}
	}
	if o.Namespace != "" {
		c.SetNamespace(o.Namespace)
	}
	return &Client{api: c, mount: mount}, nil
}

// NewFromAPI returns a Client over an api client configured by the caller,
// for the Transit engine mounted at mount ("" for DefaultMount). Without
// the retry policy New installs, a sealed Vault is retried like any 503.
func NewFromAPI(c *api.Client, mount string) (*Client, error) {
	m, err := cleanMount(mount)
	if err != nil {
		return nil, err
	}
	return &Client{api: c, mount: m}, nil
}

// API returns the api client, for operations this package does not wrap
// (tests use it to configure keys and mount engines).
func (c *Client) API() *api.Client { return c.api }

// Mount returns the path of the Transit engine, e.g. "transit".
func (c *Client) Mount() string { return c.mount }

// Address returns the address of the Vault server.
func (c *Client) Address() string { return c.api.Address() }

// Health asks the server for its health (GET sys/health, no token needed)
// and returns its version. A sealed server is ErrSealed, one that does not
// answer ErrUnreachable.
func (c *Client) Health(ctx context.Context) (version string, err error) {
	h, err := c.api.Sys().HealthWithContext(ctx)
	if err != nil {
		return "", classify("check the health of", c.api.Address(), err)
	}
	if h.Sealed {
		return h.Version, &Error{Op: "check the health of", Key: c.api.Address(), Class: ErrSealed}
	}
	return h.Version, nil
}

// retryPolicy is the api client's default (connection errors, 5xx but 501,
// 412, 429), except that a 503 "Vault is sealed" is final: a sealed Vault
// stays sealed until an operator unseals it.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && resp != nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Body != nil {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		if rerr == nil && bytes.Contains(body, []byte("Vault is sealed")) {
			return false, nil
		}
	}
	return api.DefaultRetryPolicy(ctx, resp, err)
}

// cliToken returns the token `vault login` stored in ~/.vault-token, or "".
func cliToken() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(home, ".vault-token"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// mountPattern: one or more path segments of Vault's mount alphabet.
var mountPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

func cleanMount(m string) (string, error) {
	m = strings.Trim(m, "/")
	if m == "" {
		return DefaultMount, nil
	}
	if !mountPattern.MatchString(m) || strings.Contains("/"+m+"/", "/../") || strings.Contains("/"+m+"/", "/./") {
		return "", fmt.Errorf("vault: %q is not a mount path", m)
	}
	return m, nil
}

// keyNamePattern is Transit's own (framework.GenericNameRegex): word
// characters, '-', '.', '@', starting and ending with a word character. It
// keeps a key name from reaching another endpoint ("k/rotate").
var keyNamePattern = regexp.MustCompile(`^\w([\w.@-]*\w)?$`)

func (c *Client) checkName(op, key string) error {
	if len(key) > 256 || !keyNamePattern.MatchString(key) {
		return argError(op, c.mount+"/"+key, ErrBadKeyName, "want letters, digits, _ - . @, starting and ending with a letter, digit or _")
	}
	return nil
}

// ref is how errors name a key: "<mount>/<key>".
func (c *Client) ref(key string) string { return c.mount + "/" + key }

func (c *Client) path(kind, key string, suffix ...string) string {
	p := c.mount + "/" + kind + "/" + key
	for _, s := range suffix {
		p += "/" + s
	}
	return p
}
