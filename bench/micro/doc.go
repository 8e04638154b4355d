// Package micro holds Go microbenchmarks of tend's hot paths, run with
//
//	go test -run '^$' -bench . -benchmem ./bench/micro
//
// They sit here rather than beside the code because those packages were being
// changed when they were written; they use only the packages' exported API.
package micro
