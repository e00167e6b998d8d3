// Command etcd is etcd's own server entry point, built from the go.etcd.io/etcd
// modules for meshctl's end-to-end test clusters (test tooling only; nothing
// here ships in meshctl).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
