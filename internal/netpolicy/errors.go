package netpolicy

import "errors"

// ErrUnknownReason is returned by ParseReason for a name that is not one of
// the Reason strings.
var ErrUnknownReason = errors.New("netpolicy: unknown reason")

// ErrInvalidPrefix is returned by New for an allow-list entry that is not a
// usable CIDR prefix.
var ErrInvalidPrefix = errors.New("netpolicy: invalid allow prefix")
