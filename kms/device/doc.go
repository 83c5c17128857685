// Package device implements device keys: an X25519 key pair of filippo.io/age
// kept on one device, whose public half (an age recipient, "age1…") wraps an
// archive key so that the device opens the archive without a passphrase.
//
// # Identity file
//
// [Create] writes a new identity to DIR/device.key (mode 0600, DIR made 0700)
// in exactly the format of age-keygen, and never overwrites an existing one:
//
//	# created: 2026-11-28T15:04:05Z
//	# public key: age1…
//	AGE-SECRET-KEY-1…
//
// The default location is [DefaultPath]: os.UserConfigDir()/chatvault/device.key
// (~/.config/chatvault/device.key on Linux). Anyone who can read the file
// opens every archive wrapped to the device: keep it out of backups that are
// less protected than the archives.
//
// # Wrapper
//
// A device wrapper is an ASCII-armored age file encrypted to the recipient
// ([Wrap]). Its payload is three lines of text:
//
//	chatvault archive key v1
//	archive: <archive id>
//	key: <the 32-byte archive key, 64 lowercase hex digits>
//
// [Unwrap] decrypts it, parses it strictly (exactly these three lines, each
// ending in "\n"), and refuses a wrapper that names another archive
// ([ErrWrongArchive]), so a wrapper copied from another archive does not
// substitute its key. Age files are not authenticated by their sender: anyone
// who knows the recipient can make a wrapper. The archive key that comes out
// is therefore checked by the caller (the signing-key check of the archive
// format) like any other unwrapped key.
//
// Errors: [ErrNoIdentity] when none of the identities given opens the wrapper
// (it was made for another device key, so another key is needed);
// [ErrMalformed] when the wrapper is not a well-formed, authentic age file of
// the documented payload (damaged or forged).
//
// # Emergency recovery with the stock age tool
//
// The payload is plain text on purpose: if chatvault is unavailable, the
// archive key can be recovered with age alone (https://age-encryption.org,
// any implementation of the age v1 format, e.g. `age` 1.x or rage):
//
// Step 1, find the wrapper. Wrappers are objects under
// archives/<archive id>/keys/ in the store: a short binary header, a JSON
// body, a 32-byte SHA-256 trailer. The device wrappers are those whose JSON
// says "type":"age" (and "recipient":"age1…", the device's public key):
//
//	grep -l '"type":"age"' archives/ID/keys/*
//
// Step 2, cut the armored age file out of the JSON, turning its "\n" escapes
// back into line breaks:
//
//	grep -ao -- '-----BEGIN AGE ENCRYPTED FILE-----[^"]*-----END AGE ENCRYPTED FILE-----' OBJECT |
//	  sed 's/\\n/\n/g' > wrapper.age
//
// Step 3, decrypt it with the device's identity file:
//
//	age -d -i ~/.config/chatvault/device.key wrapper.age
//
// Step 4, read the output: the "archive:" line names the archive, the "key:"
// line is its archive key in hex. Keep it as secret as the identity file.
//
// The archive key opens the archive's key table, manifests and segments as
// the format document describes, so with the key and the format document the
// data can be recovered without chatvault's code.
//
// # QR code
//
// [QR] renders a recipient as a QR code for a terminal, so that a phone (or
// another device's camera) can read the public key when a device is added to
// an archive.
package device
