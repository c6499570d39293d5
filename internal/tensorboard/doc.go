// Package tensorboard writes and reads TensorBoard event files, so that a
// training run can be watched with `tensorboard --logdir RUNDIR` without
// TensorFlow or generated protobuf code.
//
// An event file is a sequence of TFRecords. Each record is
//
//	uint64 length            (little endian)
//	uint32 masked CRC32C     of the 8 length bytes
//	byte   data[length]
//	uint32 masked CRC32C     of data
//
// where CRC32C is the CRC-32 with the Castagnoli polynomial and
// mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 in uint32 arithmetic
// (tensorflow/core/lib/io/record_writer.cc; the mask is LevelDB's, which
// stores CRCs masked because the CRC of a string holding embedded CRCs is
// problematic). The data of each record is one
// serialized tensorflow.Event protocol buffer: the first Event of a file
// carries the file_version "brain.Event:2", and each later Event carries a
// step, a wall time in seconds since the Unix epoch and a Summary of scalar
// values (float32 simple_value) under their tags. proto.go encodes and
// decodes these messages by hand with protowire and cites the field numbers.
//
// TensorBoard reads every file whose name contains "tfevents" in a run
// directory; Create names files as TensorFlow does. Read and ReadFile parse
// event files back (ours, and the scalars of files written by TensorFlow), for
// tests and for anyone checking a run.
package tensorboard
