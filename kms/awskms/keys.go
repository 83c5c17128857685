package awskms

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Key states, as KMS names them in KeyInfo.State.
const (
	StateEnabled         = string(types.KeyStateEnabled)
	StateDisabled        = string(types.KeyStateDisabled)
	StatePendingDeletion = string(types.KeyStatePendingDeletion)
)

// OriginAWSKMS is the Origin of a key whose material KMS generated and never
// lets out (the only kind that counts as destroyed once deleted).
const OriginAWSKMS = string(types.OriginTypeAwsKms)

// Dedicated keys: the tag naming their archive and their alias prefix.
const (
	TagArchive  = "chatvault:archive"
	AliasPrefix = "alias/chatvault-"
)

// Deletion waiting period bounds accepted by KMS, in days.
const (
	MinPendingDays = 7
	MaxPendingDays = 30
)

// KeyInfo describes a KMS key, as DescribeKey reports it.
type KeyInfo struct {
	ARN          string    // full key ARN (aliases resolved)
	KeyID        string    // the key id (UUID)
	State        string    // StateEnabled, StateDisabled, StatePendingDeletion, …
	Enabled      bool      // usable for cryptographic operations
	DeletionDate time.Time // zero unless PendingDeletion
	Origin       string    // OriginAWSKMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE
	MultiRegion  bool      // a multi-Region key has replicas elsewhere
	Description  string
}

func keyInfo(m *types.KeyMetadata) KeyInfo {
	ki := KeyInfo{
		ARN:         aws.ToString(m.Arn),
		KeyID:       aws.ToString(m.KeyId),
		State:       string(m.KeyState),
		Enabled:     m.Enabled,
		Origin:      string(m.Origin),
		MultiRegion: aws.ToBool(m.MultiRegion),
		Description: aws.ToString(m.Description),
	}
	if m.DeletionDate != nil {
		ki.DeletionDate = *m.DeletionDate
	}
	return ki
}

// Resolve describes the key keyIDOrAlias names (key id, key ARN, alias name or
// alias ARN) in one DescribeKey call. Compare keys by KeyInfo.ARN: aliases are
// resolved to the key they point at. A key deleted after its waiting period,
// like one that never existed, is ErrNotFound.
func (c *Client) Resolve(ctx context.Context, keyIDOrAlias string) (KeyInfo, error) {
	out, err := c.api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyIDOrAlias)}, c.regionOpts(keyIDOrAlias)...)
	if err != nil {
		return KeyInfo{}, classify("describe", keyIDOrAlias, err)
	}
	if out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
		return KeyInfo{}, classify("describe", keyIDOrAlias, errors.New("KMS returned no key metadata"))
	}
	return keyInfo(out.KeyMetadata), nil
}

// Tags returns the tags of the key keyID (key id or ARN; not an alias), in one
// ListResourceTags call. Dedicated keys carry TagArchive.
func (c *Client) Tags(ctx context.Context, keyID string) (map[string]string, error) {
	tags := map[string]string{}
	in := &kms.ListResourceTagsInput{KeyId: aws.String(keyID)}
	for {
		out, err := c.api.ListResourceTags(ctx, in, c.regionOpts(keyID)...)
		if err != nil {
			return nil, classify("list the tags of", keyID, err)
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
		if !out.Truncated || out.NextMarker == nil {
			return tags, nil
		}
		in.Marker = out.NextMarker
	}
}

// AliasName returns the alias of the dedicated key of an archive:
// "alias/chatvault-<archiveID>".
func AliasName(archiveID string) string { return AliasPrefix + archiveID }

// archiveIDPattern keeps alias names within KMS's alphabet and length.
var archiveIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// CreateDedicated creates a KMS key for one archive only: SYMMETRIC_DEFAULT,
// ENCRYPT_DECRYPT, Origin AWS_KMS, single-region, tagged
// chatvault:archive=<archiveID>, with the alias AliasName(archiveID) (two
// calls: CreateKey, CreateAlias). If the alias cannot be made (it already
// exists, typically), the new key is disabled and scheduled for deletion after
// the shortest waiting period, and the error says so.
func (c *Client) CreateDedicated(ctx context.Context, archiveID string) (KeyInfo, error) {
	return c.createDedicated(ctx, archiveID, "")
}

// NamedAliasName returns the alias of a further dedicated key of an archive:
// "alias/chatvault-<archiveID>-<suffix>" (AliasName when suffix is "").
func NamedAliasName(archiveID, suffix string) string {
	if suffix == "" {
		return AliasName(archiveID)
	}
	return AliasName(archiveID) + "-" + suffix
}

// suffixPattern keeps the suffix of a named dedicated key's alias short and
// within KMS's alphabet.
var suffixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// CreateDedicatedNamed is CreateDedicated for a further dedicated key of the
// same archive (a conversation shred moves the archive to a new one): the
// same key and tag chatvault:archive=<archiveID>, with the alias
// NamedAliasName(archiveID, suffix). The suffix (1–40 characters among A–Z
// a–z 0–9 _ -) must differ from those of the archive's other keys.
func (c *Client) CreateDedicatedNamed(ctx context.Context, archiveID, suffix string) (KeyInfo, error) {
	if !suffixPattern.MatchString(suffix) {
		return KeyInfo{}, argError("create a dedicated key for archive", archiveID, ErrBadArchiveID, "alias suffix %q: want 1–40 characters among A–Z a–z 0–9 _ -", suffix)
	}
	return c.createDedicated(ctx, archiveID, suffix)
}

func (c *Client) createDedicated(ctx context.Context, archiveID, suffix string) (KeyInfo, error) {
	const op = "create a dedicated key for archive"
	if !archiveIDPattern.MatchString(archiveID) {
		return KeyInfo{}, argError(op, archiveID, ErrBadArchiveID, "want 1–200 characters among A–Z a–z 0–9 _ -")
	}
	out, err := c.api.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Origin:      types.OriginTypeAwsKms,
		MultiRegion: aws.Bool(false),
		Description: aws.String("chatvault: key-encryption key of archive " + archiveID + " only; deleting it shreds the archive"),
		Tags:        []types.Tag{{TagKey: aws.String(TagArchive), TagValue: aws.String(archiveID)}},
	})
	if err != nil {
		return KeyInfo{}, classify(op, archiveID, err)
	}
	if out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
		return KeyInfo{}, classify(op, archiveID, errors.New("KMS returned no key metadata"))
	}
	ki := keyInfo(out.KeyMetadata)
	alias := NamedAliasName(archiveID, suffix)
	_, err = c.api.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(ki.ARN)}, c.regionOpts(ki.ARN)...)
	if err != nil {
		err = classify("create alias "+alias+" for", ki.ARN, err)
		if _, derr := c.Destroy(context.WithoutCancel(ctx), ki.ARN, MinPendingDays); derr != nil {
			return KeyInfo{}, errors.Join(err, derr)
		}
		return KeyInfo{}, errors.Join(err, errors.New("awskms: the new key "+ki.ARN+" was disabled and scheduled for deletion"))
	}
	return ki, nil
}

// Destroy crypto-shreds the key arn (key id or ARN; not an alias): DisableKey
// at once, so that every unwrap fails from now on, then ScheduleKeyDeletion
// after pendingDays (7–30, checked before any call). It returns the deletion
// date; until then the deletion can be cancelled in KMS. Destroying a key
// already pending deletion returns its existing date (one DescribeKey call
// more); a key already deleted is ErrNotFound.
func (c *Client) Destroy(ctx context.Context, arn string, pendingDays int) (deletionDate time.Time, err error) {
	if pendingDays < MinPendingDays || pendingDays > MaxPendingDays {
		return time.Time{}, argError("destroy", arn, ErrPendingWindow, "got %d days", pendingDays)
	}
	opts := c.regionOpts(arn)
	if _, err := c.api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}, opts...); err != nil {
		err = classify("disable", arn, err)
		if errors.Is(err, ErrInvalidState) {
			if ki, derr := c.Resolve(ctx, arn); derr == nil && ki.State == StatePendingDeletion && !ki.DeletionDate.IsZero() {
				return ki.DeletionDate, nil
			}
		}
		return time.Time{}, err
	}
	out, err := c.api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
		KeyId:               aws.String(arn),
		PendingWindowInDays: aws.Int32(int32(pendingDays)),
	}, opts...)
	if err != nil {
		return time.Time{}, classify("schedule the deletion of", arn, err)
	}
	if out.DeletionDate == nil {
		return time.Time{}, classify("schedule the deletion of", arn, errors.New("KMS returned no deletion date"))
	}
	return *out.DeletionDate, nil
}
