package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/kms/device"
)

const deviceLong = `A device key is an age X25519 key pair kept on this device
(~/.config/chatvault/device.key, or --identity FILE). An archive wrapped for
its public half (the recipient, age1…) opens on this device without a
passphrase: every command tries the device key first. Anyone who can read the
key file opens those archives, so keep it out of less protected backups; an
archive wrapped only for a lost device key is lost, so keep another wrapper
(a passphrase, a recovery key, KMS).`

func newDeviceCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Create or show this device's key",
		Long:  deviceLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("device: want a subcommand: init or show")
		},
	}
	var qr bool
	var signingKey string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create this device's key and print its recipient",
		Long: `Create this device's key (an age X25519 identity) in
~/.config/chatvault/device.key, or in --identity FILE, with mode 0600. An
existing key is never replaced. It prints the recipient (age1…) to give to
` + "`chatvault keys add ARCHIVE --recipient`" + ` (on any device that can open the
archive), and a QR code of it when stdout is a terminal (--qr: always).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			if signingKey != "" {
				return a.signingKeyInit(signingKey, qr) // shred.go
			}
			return a.deviceInit(cmd.Context(), qr)
		},
	}
	initCmd.Flags().BoolVar(&qr, "qr", false, "print the recipient's QR code even when stdout is not a terminal")
	initCmd.Flags().StringVar(&signingKey, "signing-key", "", "instead of the device key, create the Ed25519 key that signs shred reports (--signing-key=`FILE`; default ~/.config/chatvault/"+signingKeyFile+")")
	initCmd.Flags().Lookup("signing-key").NoOptDefVal = defaultSigningKeyWord
	var showQR bool
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Print this device's recipient",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			return a.deviceShow(showQR)
		},
	}
	showCmd.Flags().BoolVar(&showQR, "qr", false, "print the recipient's QR code even when stdout is not a terminal")
	cmd.AddCommand(initCmd, showCmd)
	return cmd
}

type deviceRecord struct {
	Type      string `json:"type"`
	Identity  string `json:"identity"`
	Recipient string `json:"recipient"`
	Created   bool   `json:"created"`
}

func (a *app) deviceInit(ctx context.Context, qr bool) error {
	if qr && a.json {
		return usageErrorf("--qr and --json exclude each other")
	}
	path, explicit, err := a.identityPath()
	if err != nil {
		return err
	}
	var id *device.Identity
	if !explicit || filepath.Base(path) == device.FileName {
		id, err = device.Create(filepath.Dir(path))
	} else {
		id, err = createIdentityAt(path)
	}
	if errors.Is(err, device.ErrExists) {
		return withHint(err, "this device already has a key: `chatvault device show` prints its recipient; --identity FILE makes another one")
	}
	if err != nil {
		return err
	}
	return a.printDevice(id, true, qr)
}

// createIdentityAt creates an identity file at path (not named device.key):
// device.Create in a temporary directory beside it, then a hard link, which
// refuses an existing file as Create does.
func createIdentityAt(path string) (*device.Identity, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("device: %s: %w; remove it only if no archive needs it", path, device.ErrExists)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".device-*")
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := device.Create(tmp); err != nil {
		return nil, err
	}
	if err := os.Link(filepath.Join(tmp, device.FileName), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("device: %s: %w; remove it only if no archive needs it", path, device.ErrExists)
		}
		return nil, fmt.Errorf("device: %w", err)
	}
	return device.Load(path)
}

func (a *app) deviceShow(qr bool) error {
	if qr && a.json {
		return usageErrorf("--qr and --json exclude each other")
	}
	id, err := a.device()
	if err != nil {
		return err
	}
	if id == nil {
		path, _, _ := a.identityPath()
		return usageErrorf("this device has no key at %s: create one with `chatvault device init`", path)
	}
	return a.printDevice(id, false, qr)
}

func (a *app) printDevice(id *device.Identity, created, qr bool) error {
	if a.json {
		return a.emit(deviceRecord{Type: "device", Identity: id.Path(), Recipient: id.Recipient(), Created: created})
	}
	if created {
		a.printf("created device key %s (keep it private; back up its archives with another key too)\n", id.Path())
	}
	fmt.Fprintf(a.out, "recipient %s\n", id.Recipient())
	if qr || a.stdoutTTY {
		code, err := device.QR(id.Recipient())
		if err != nil {
			return err
		}
		fmt.Fprint(a.out, code)
	}
	a.printf("give it to `chatvault keys add ARCHIVE --recipient %s` to open ARCHIVE on this device without a passphrase\n", id.Recipient())
	return nil
}
