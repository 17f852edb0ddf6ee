package files_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wattson-csms/wattson/files"
	"github.com/wattson-csms/wattson/store"
)

// BenchmarkDownload measures serving a 16 MiB firmware image from SQLite
// over loopback HTTP, to one charger at a time and to 50 at once (a
// roll-out's wave): bytes per second through the chunked reader.
func BenchmarkDownload(b *testing.B) {
	for _, parallel := range []int{1, 50} {
		b.Run(map[int]string{1: "one", 50: "fifty"}[parallel], func(b *testing.B) {
			e := newEnv(b, 0)
			ctx := context.Background()
			img := content(16 << 20)
			f, err := files.Save(ctx, e.st, store.File{Kind: store.FileFirmware, Name: "fw.bin"}, bytes.NewReader(img), 1<<30)
			if err != nil {
				b.Fatal(err)
			}
			links := make([]string, parallel)
			for i := range links {
				if links[i], err = e.svc.DownloadLink(ctx, f, "CP", time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(img) * parallel))
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				for _, l := range links {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, err := http.Get(l)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if n != int64(len(img)) {
							b.Errorf("got %d bytes", n)
						}
					}()
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkUpload measures streaming a 16 MiB file into SQLite (Save).
func BenchmarkUpload(b *testing.B) {
	e := newEnv(b, 0)
	img := content(16 << 20)
	b.SetBytes(int64(len(img)))
	for range b.N {
		if _, err := files.Save(context.Background(), e.st, store.File{Kind: store.FileFirmware, Name: "fw.bin"}, bytes.NewReader(img), 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}
