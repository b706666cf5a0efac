// Package benchmarks holds Elevate's cross-cutting benchmarks: Lambda
// process start-up and the authorize path through the local gateway against
// its DynamoDB floor. `make bench` runs them; nothing here asserts a time.
package benchmarks
