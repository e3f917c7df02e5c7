package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/weatherd/weatherd/pkg/awsconf"
	"github.com/weatherd/weatherd/pkg/kcl"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/pipeline"
	"github.com/weatherd/weatherd/pkg/producer"
	"github.com/weatherd/weatherd/pkg/spool"
	"github.com/weatherd/weatherd/pkg/stream"
	"github.com/weatherd/weatherd/pkg/stream/memstream"
)

// streamParts is the stream as the daemon runs it: the producer the poller
// puts into, the consumer feeding the pipeline, and what they hold.
type streamParts struct {
	producer      stream.Producer
	producerCheck func() error // the producer's readiness check, or nil
	consumer      lifecycle.Component
	workerID      string          // the consumer's worker id in the lease table, or ""
	leases        func() []string // the shards the consumer holds; nil with the memory stream
	spool         *spool.Spool    // the producer's, or nil
}

// close releases what newStream acquired, for a New that fails later.
func (st *streamParts) close() {
	if st.spool != nil {
		st.spool.Close()
	}
}

func newStream(dp deps, factory *pipeline.Factory) (*streamParts, error) {
	cfg := dp.cfg
	switch cfg.Stream.Driver {
	case stream.DriverMemory:
		factory.Stream = "memory"
		ms := memstream.New(cfg.Stream.Memory, dp.reg)
		c := ms.Consumer(factory.New, dp.log)
		return &streamParts{
			producer: ms.Producer(),
			consumer: lifecycle.Component{Name: "consumer", Run: c.Run, Ready: c.Ready},
			workerID: cfg.Consumer.WorkerID,
		}, nil
	case stream.DriverKinesis:
		st := &streamParts{}
		kin := awsconf.NewKinesis(dp.sdk, cfg.AWS)
		var opts []producer.Option
		if dir := cfg.Stream.Kinesis.SpoolDir; dir != "" && cfg.Poller.Enabled {
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs // errors and logs name the real place
			}
			sp, recovered, err := spool.Open(dir, spool.Options{Registerer: dp.reg, Logger: dp.log})
			if err != nil {
				return nil, fmt.Errorf("stream.kinesis.spool_dir: %w", err)
			}
			st.spool = sp
			opts = append(opts, producer.WithSpool(sp, recovered))
		}
		prod := producer.New(cfg.Stream.Kinesis, kin, dp.reg, dp.log, opts...)
		st.producer, st.producerCheck = prod, prod.Health
		w, err := kcl.New(cfg.Consumer, cfg.Stream.Kinesis.Name, kin, awsconf.NewDynamoDB(dp.sdk, cfg.AWS), factory.New, dp.reg, dp.log)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("consumer: %w", err)
		}
		st.workerID, st.leases = w.WorkerID(), w.Leases
		st.consumer = lifecycle.Component{Name: "consumer", Run: w.Run, Ready: w.Ready}
		return st, nil
	}
	return nil, fmt.Errorf("stream.driver: unknown driver %q", cfg.Stream.Driver)
}
