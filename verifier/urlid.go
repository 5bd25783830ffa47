package verifier

// DecodeURLID decodes a URL id (see NewURLID) into its 16 bytes. It is
// strict: only 22 characters of unpadded base64url whose unused trailing
// bits are zero are accepted, so every id has exactly one accepted spelling
// and two different strings never stand for the same link. It does not
// allocate.
func DecodeURLID(id string) (raw [urlIDRawLen]byte, ok bool) {
	if len(id) != URLIDLen {
		return raw, false
	}
	n, ok := decodeBase64URL(raw[:], id)
	return raw, ok && n == len(raw)
}
