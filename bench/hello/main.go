// Command hello is the floor of the list row: a hello-world Go program built
// as tend is, so a CLI call is compared with the least a Go process costs to
// start and exit on this machine at that moment.
package main

import "fmt"

func main() { fmt.Println("hello, world") }
