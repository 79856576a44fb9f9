// Command misbehave is a Go guest whose request hook fails in the way its
// body names, for the host's failure tests: "exit" exits the instance,
// "panic" panics, "loop" never returns, "oom" allocates until memory runs
// out, "flood" prints 100,000 lines. "sandbox" reports what it could read
// of the host's files and environment, and "clock" the wall clock's Unix
// time. Any other body is echoed.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var hoard [][]byte

func init() {
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status {
		switch string(req.Body) {
		case "exit":
			os.Exit(3)
		case "panic":
			var m map[string]int
			m["boom"]++
		case "loop":
			for i := 0; ; i++ {
				if i < 0 {
					break
				}
			}
		case "oom":
			for {
				hoard = append(hoard, make([]byte, 1<<20))
			}
		case "flood":
			for i := 0; i < 100_000; i++ {
				fmt.Println("flood line", i)
			}
		case "sandbox":
			_, fileErr := os.ReadFile("/etc/hostname")
			_, dirErr := os.ReadDir("/")
			megaflow.WriteString(fmt.Sprintf("file=%v dir=%v env=%d args=%d", fileErr != nil, dirErr != nil, len(os.Environ()), len(os.Args)))
			return megaflow.OK
		case "clock":
			megaflow.WriteString(strconv.FormatInt(time.Now().Unix(), 10))
			return megaflow.OK
		}
		megaflow.Write(req.Body)
		return megaflow.OK
	})
}

func main() {}
