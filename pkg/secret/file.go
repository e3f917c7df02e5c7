package secret

import (
	"errors"
	"os"
	"strings"
)

// ErrEmptyFile is ReadFile's error for a file holding only white space.
var ErrEmptyFile = errors.New("secret file is empty")

// ReadFile returns the secret a file holds (a Docker, ECS or Kubernetes
// secret), without the surrounding white space such as the newline an
// editor adds. A file holding nothing else is ErrEmptyFile, never an empty
// secret: that would, say, sign webhooks with "". Read errors are returned
// as os.ReadFile gives them; callers word the error for their key.
func ReadFile(name string) (String, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	s := String(strings.TrimSpace(string(b)))
	if s.IsZero() {
		return "", ErrEmptyFile
	}
	return s, nil
}
