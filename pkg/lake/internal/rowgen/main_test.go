package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/weatherd/weatherd/pkg/weather"
)

// TestRowGen_UpToDate: the committed row_gen.go is what weather.Columns
// makes of it.
func TestRowGen_UpToDate(t *testing.T) {
	want, err := rowSource(weather.Columns[:])
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", out))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("pkg/lake/row_gen.go is not what weather.Columns makes: run go generate ./pkg/lake")
	}
}

func TestRowSource_UnknownKind(t *testing.T) {
	_, err := rowSource([]weather.Column{{Name: "x", Column: "x", Kind: 9}})
	if err == nil || err.Error() != "column x: unknown kind 9" {
		t.Fatalf("err = %v", err)
	}
}
