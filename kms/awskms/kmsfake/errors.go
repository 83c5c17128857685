package kmsfake

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// The fake's errors, of the types the SDK deserializes KMS's answers into.

func notFoundKey(arn string) error {
	return &types.NotFoundException{Message: aws.String(fmt.Sprintf("Key '%s' does not exist", arn))}
}

func notFoundAlias(aliasARN string) error {
	return &types.NotFoundException{Message: aws.String(fmt.Sprintf("Alias %s is not found.", aliasARN))}
}

func disabled(arn string) error {
	return &types.DisabledException{Message: aws.String(arn + " is disabled.")}
}

func pendingDeletion(arn string) error {
	return &types.KMSInvalidStateException{Message: aws.String(arn + " is pending deletion.")}
}

// accessDenied is local-kms's answer to Decrypt on an unusable key.
func accessDenied() error {
	return &smithy.GenericAPIError{
		Code:    "AccessDeniedException",
		Message: "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
		Fault:   smithy.FaultClient,
	}
}

// invalidCiphertext has an empty message, like AWS's.
func invalidCiphertext() error { return &types.InvalidCiphertextException{} }

func incorrectKey() error {
	return &types.IncorrectKeyException{Message: aws.String("The key ID in the request does not identify a KMS key that can perform this operation.")}
}

func validation(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

func alreadyExists(aliasARN string) error {
	return &types.AlreadyExistsException{Message: aws.String(fmt.Sprintf("An alias with the name %s already exists", aliasARN))}
}

func invalidAliasName(name string) error {
	return &types.InvalidAliasNameException{Message: aws.String(fmt.Sprintf("Alias name %q is not valid", name))}
}
