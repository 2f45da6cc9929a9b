//go:build !unix

package archive

// running cannot tell elsewhere: a temporary file is kept until it is a
// day old.
func running(int) bool { return true }
