package vault_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/kms/vault/vaultfake"
	"github.com/chatvault/chatvault/kms/vault/vaulttest"
)

// TestVault runs the scenarios of scenarios_test.go against a real Vault (a
// dev server of tools/vault): it is skipped unless VAULT_ADDR is set (see
// package vaulttest). Sealing is tested with the fake only: a dev server
// cannot be unsealed without its unseal key.
func TestVault(t *testing.T) {
	c := vaulttest.Client(t)
	v, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Vault %s at %s", v, c.Address())
	if !strings.HasPrefix(v, "1.") {
		t.Errorf("Vault version %q", v)
	}
	runScenarios(t, c, true)
}

func runScenarios(t *testing.T, c *vault.Client, parallel bool) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			s.run(t, c, vaulttest.KeyOn(t, c))
		})
	}
}

// TestVaulttestWithFake runs vaulttest.Client's real-server path against the
// fake: the environment, the health check, mounting Transit.
func TestVaulttestWithFake(t *testing.T) {
	f := vaultfake.New()
	defer f.Close()
	f.Unmount("transit")
	t.Setenv(vaulttest.EnvAddr, f.URL())
	t.Setenv(vaulttest.EnvToken, f.Token())
	t.Setenv(vaulttest.EnvTestVault, "")
	t.Setenv("VAULT_AGENT_ADDR", "")
	t.Setenv("VAULT_NAMESPACE", "")
	c := vaulttest.Client(t)
	key := vaulttest.Key(t)
	if _, ok := f.Key("transit", key); !ok {
		t.Fatal("vaulttest.Key made no key in the fake's new transit mount")
	}
	runScenarios(t, c, false)
	if n := len(f.Keys("transit")); n != 1 {
		t.Errorf("%d keys left after the scenarios' cleanup (%v), want Key's only", n, f.Keys("transit"))
	}
}
