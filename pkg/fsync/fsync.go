// Package fsync makes file system changes durable across a crash.
package fsync

import "os"

// Dir flushes directory dir, so that files created, renamed or removed in
// it survive a power loss or kernel crash, not only their contents (which
// need their own File.Sync). Errors name dir, as os gives them.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
