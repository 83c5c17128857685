package vaulttest

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"http://127.0.0.1:8200":      true,
		"http://127.0.0.2:8200":      true,
		"https://localhost:8200":     true,
		"http://[::1]:8200":          true,
		"unix:///run/vault.sock":     true,
		"https://vault.example.com":  false,
		"https://10.0.0.5:8200":      false,
		"http://127.0.0.1.nip.io:80": false,
		"::":                         false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestAddrSkips(t *testing.T) {
	for _, env := range []map[string]string{
		{EnvAddr: "", EnvTestVault: "", EnvRequireServers: ""},
		{EnvAddr: "https://vault.example.com", EnvTestVault: "", EnvRequireServers: ""},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		ok := t.Run("sub", func(t *testing.T) {
			Addr(t)
			t.Error("Addr did not skip")
		})
		if !ok {
			t.Errorf("Addr with %v", env)
		}
	}
	t.Setenv(EnvAddr, "https://vault.example.com")
	t.Setenv(EnvTestVault, "1")
	if got := Addr(t); got != "https://vault.example.com" {
		t.Errorf("Addr = %q", got)
	}
}
