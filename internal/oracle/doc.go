// Package oracle recomputes imago's losses and their gradients with an
// independent implementation, gorgonia's symbolic differentiation in float64,
// so that tests can check package nn's hand-written backward passes against
// it.
//
// It is a module of its own (internal/oracle/go.mod) so that gorgonia and its
// dependencies never enter the go.mod of the library; run its tests with
//
//	cd internal/oracle && go test ./...
package oracle
