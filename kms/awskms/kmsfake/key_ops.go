package kmsfake

import (
	"context"
	"crypto/rand"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// CreateKey creates an enabled symmetric encryption key (the only kind the
// fake has), with its description and tags.
func (f *Fake) CreateKey(ctx context.Context, in *kms.CreateKeyInput, _ ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	if err := f.begin(ctx, "CreateKey"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	switch {
	case in.KeySpec != "" && in.KeySpec != types.KeySpecSymmetricDefault,
		in.KeyUsage != "" && in.KeyUsage != types.KeyUsageTypeEncryptDecrypt,
		in.Origin != "" && in.Origin != types.OriginTypeAwsKms,
		aws.ToBool(in.MultiRegion):
		return nil, validation("kmsfake supports only single-region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys of origin AWS_KMS")
	}
	k := &key{
		id:          newUUID(),
		created:     f.now(),
		description: aws.ToString(in.Description),
		enabled:     true,
		material:    make([]byte, 32),
		tags:        map[string]string{},
	}
	rand.Read(k.material)
	for _, t := range in.Tags {
		k.tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
	}
	f.keys[k.id] = k
	return &kms.CreateKeyOutput{KeyMetadata: f.metadata(k)}, nil
}

// DescribeKey describes the key a key id, key ARN, alias name or alias ARN
// names, in whatever state.
func (f *Fake) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	if err := f.begin(ctx, "DescribeKey"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.resolve(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	return &kms.DescribeKeyOutput{KeyMetadata: f.metadata(k)}, nil
}

func (f *Fake) metadata(k *key) *types.KeyMetadata {
	m := &types.KeyMetadata{
		AWSAccountId:          aws.String(Account),
		Arn:                   aws.String(k.arn()),
		KeyId:                 aws.String(k.id),
		CreationDate:          aws.Time(k.created),
		Description:           aws.String(k.description),
		Enabled:               k.enabled,
		KeyState:              types.KeyStateEnabled,
		KeyManager:            types.KeyManagerTypeCustomer,
		KeySpec:               types.KeySpecSymmetricDefault,
		CustomerMasterKeySpec: types.CustomerMasterKeySpecSymmetricDefault,
		KeyUsage:              types.KeyUsageTypeEncryptDecrypt,
		Origin:                types.OriginTypeAwsKms,
		MultiRegion:           aws.Bool(false),
		EncryptionAlgorithms:  []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecSymmetricDefault},
	}
	switch {
	case !k.deletionDate.IsZero():
		m.KeyState = types.KeyStatePendingDeletion
		m.DeletionDate = aws.Time(k.deletionDate)
		m.PendingDeletionWindowInDays = aws.Int32(k.pendingDays)
	case !k.enabled:
		m.KeyState = types.KeyStateDisabled
	}
	return m
}

// CreateAlias points a new alias at a key (key id or ARN).
func (f *Fake) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, _ ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	if err := f.begin(ctx, "CreateAlias"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.AliasName)
	if !aliasName.MatchString(name) || strings.HasPrefix(name, "alias/aws/") {
		return nil, invalidAliasName(name)
	}
	if _, ok := f.aliases[name]; ok {
		return nil, alreadyExists(arnPrefix + name)
	}
	k, err := f.keyOnly(aws.ToString(in.TargetKeyId))
	if err != nil {
		return nil, err
	}
	if !k.deletionDate.IsZero() {
		return nil, pendingDeletion(k.arn())
	}
	f.aliases[name] = k.id
	return &kms.CreateAliasOutput{}, nil
}

// ListAliases lists every alias, or those of the key KeyId names, in one page.
func (f *Fake) ListAliases(ctx context.Context, in *kms.ListAliasesInput, _ ...func(*kms.Options)) (*kms.ListAliasesOutput, error) {
	if err := f.begin(ctx, "ListAliases"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	var only string
	if in.KeyId != nil {
		k, err := f.keyOnly(*in.KeyId)
		if err != nil {
			return nil, err
		}
		only = k.id
	}
	out := &kms.ListAliasesOutput{}
	for name, id := range f.aliases {
		if only != "" && id != only {
			continue
		}
		out.Aliases = append(out.Aliases, types.AliasListEntry{
			AliasName:   aws.String(name),
			AliasArn:    aws.String(arnPrefix + name),
			TargetKeyId: aws.String(id),
		})
	}
	sort.Slice(out.Aliases, func(i, j int) bool { return *out.Aliases[i].AliasName < *out.Aliases[j].AliasName })
	return out, nil
}

// TagResource adds or replaces tags of a key (key id or ARN).
func (f *Fake) TagResource(ctx context.Context, in *kms.TagResourceInput, _ ...func(*kms.Options)) (*kms.TagResourceOutput, error) {
	if err := f.begin(ctx, "TagResource"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.keyOnly(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if !k.deletionDate.IsZero() {
		return nil, pendingDeletion(k.arn())
	}
	for _, t := range in.Tags {
		k.tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
	}
	return &kms.TagResourceOutput{}, nil
}

// ListResourceTags lists the tags of a key (key id or ARN), sorted, in one
// page.
func (f *Fake) ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, _ ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	if err := f.begin(ctx, "ListResourceTags"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.keyOnly(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	out := &kms.ListResourceTagsOutput{}
	for name, v := range k.tags {
		out.Tags = append(out.Tags, types.Tag{TagKey: aws.String(name), TagValue: aws.String(v)})
	}
	sort.Slice(out.Tags, func(i, j int) bool { return *out.Tags[i].TagKey < *out.Tags[j].TagKey })
	return out, nil
}

// DisableKey disables a key (key id or ARN); a key pending deletion is
// KMSInvalidStateException.
func (f *Fake) DisableKey(ctx context.Context, in *kms.DisableKeyInput, _ ...func(*kms.Options)) (*kms.DisableKeyOutput, error) {
	return &kms.DisableKeyOutput{}, f.setEnabled(ctx, "DisableKey", aws.ToString(in.KeyId), false)
}

// EnableKey enables a disabled key (not part of awskms.API).
func (f *Fake) EnableKey(ctx context.Context, in *kms.EnableKeyInput, _ ...func(*kms.Options)) (*kms.EnableKeyOutput, error) {
	return &kms.EnableKeyOutput{}, f.setEnabled(ctx, "EnableKey", aws.ToString(in.KeyId), true)
}

// setEnabled is DisableKey and EnableKey.
func (f *Fake) setEnabled(ctx context.Context, op, keyID string, enabled bool) error {
	if err := f.begin(ctx, op); err != nil {
		return err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.keyOnly(keyID)
	if err != nil {
		return err
	}
	if !k.deletionDate.IsZero() {
		return pendingDeletion(k.arn())
	}
	k.enabled = enabled
	return nil
}

// ScheduleKeyDeletion puts a key (key id or ARN) in PendingDeletion for
// PendingWindowInDays days (7–30, default 30), counted on the fake's clock.
func (f *Fake) ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, _ ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	if err := f.begin(ctx, "ScheduleKeyDeletion"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, validation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have minimum value of 7 and maximum value of 30.", days)
	}
	k, err := f.keyOnly(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if !k.deletionDate.IsZero() {
		return nil, pendingDeletion(k.arn())
	}
	k.enabled = false
	k.pendingDays = days
	k.deletionDate = f.now().Add(time.Duration(days) * 24 * time.Hour)
	return &kms.ScheduleKeyDeletionOutput{
		KeyId:               aws.String(k.arn()),
		DeletionDate:        aws.Time(k.deletionDate),
		KeyState:            types.KeyStatePendingDeletion,
		PendingWindowInDays: aws.Int32(days),
	}, nil
}

// CancelKeyDeletion takes a key out of PendingDeletion; like AWS (unlike
// local-kms) it is then Disabled. Not part of awskms.API.
func (f *Fake) CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, _ ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	if err := f.begin(ctx, "CancelKeyDeletion"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.keyOnly(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if k.deletionDate.IsZero() {
		return nil, &types.KMSInvalidStateException{Message: aws.String(k.arn() + " is not pending deletion.")}
	}
	k.deletionDate, k.pendingDays, k.enabled = time.Time{}, 0, false
	return &kms.CancelKeyDeletionOutput{KeyId: aws.String(k.arn())}, nil
}
