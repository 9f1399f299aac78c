package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/fintech-banking/bank/client"
)

// Service is one of the platform's services as the system page reaches it:
// its name and the base URL of its Actuator endpoints.
type Service struct{ Name, URL string }

// Platform is the System of a running platform. The queues and the
// maintenance mode go through the API as the signed-in staff member (the
// API checks their role); each service's health and metrics come from its
// own Actuator endpoints, which answer anyone inside the cluster, statuses
// only (what Kubernetes probes and Prometheus scrapes read).
type Platform struct {
	Services []Service
	// HTTP reaches the Actuator endpoints; it should have a timeout.
	HTTP *http.Client
	Now  func() time.Time
}

// maxScrape bounds what one service's metrics may weigh.
const maxScrape = 8 << 20

// Status reads every service's health and metrics concurrently, and the
// queues and the maintenance mode through api. A service that does not
// answer is DOWN on the page, not an error of the page; an error of the
// API (the caller's role, an outage) is.
func (p *Platform) Status(ctx context.Context, api *client.Client) (SystemStatus, error) {
	st := SystemStatus{Now: p.Now()}
	type scraped struct {
		checks []Check
		fams   []*dto.MetricFamily
	}
	results := make([]scraped, len(p.Services))
	var wg sync.WaitGroup
	for i, svc := range p.Services {
		wg.Go(func() {
			results[i].checks = p.health(ctx, svc)
			results[i].fams = p.metrics(ctx, svc)
		})
	}
	queues, qerr := api.Queues(ctx)
	m, merr := api.Maintenance(ctx)
	wg.Wait()
	if merr != nil {
		return st, merr
	}
	var ae *client.Error
	switch {
	case errors.As(qerr, &ae) && ae.Code == "queue_unavailable":
		st.Checks = append(st.Checks, Check{Name: "queues", Status: "DOWN"})
	case qerr != nil:
		return st, qerr
	}
	for _, q := range queues {
		st.Queues = append(st.Queues, QueueDepth{Name: q.Name, Visible: q.Main.Visible, InFlight: q.Main.InFlight,
			DeadLetter: q.DeadLetter.Visible + q.DeadLetter.InFlight + q.DeadLetter.Delayed, OldestAge: q.Main.OldestAge().Round(time.Second)})
	}
	st.Maintenance, st.Message = m.On, m.Message
	if m.Since != nil {
		st.Since = *m.Since
	}
	byName := map[string]*dto.MetricFamily{}
	for _, r := range results {
		st.Checks = append(st.Checks, r.checks...)
		for _, f := range r.fams {
			if have, ok := byName[f.GetName()]; ok {
				have.Metric = append(have.Metric, f.Metric...)
				continue
			}
			byName[f.GetName()] = f
			st.Metrics = append(st.Metrics, f)
		}
	}
	return st, nil
}

// SetMaintenance turns maintenance on or off through the API.
func (p *Platform) SetMaintenance(ctx context.Context, api *client.Client, on bool, message string) error {
	_, err := api.SetMaintenance(ctx, on, message)
	return err
}

// Redrive moves the dead letters of the queue name back through the API.
func (p *Platform) Redrive(ctx context.Context, api *client.Client, name string) (int, error) {
	return api.Redrive(ctx, name, 0)
}

// health is svc's health and its components', as "svc" and "svc component".
func (p *Platform) health(ctx context.Context, svc Service) []Check {
	var rep struct {
		Status     string `json:"status"`
		Components map[string]struct {
			Status string `json:"status"`
		} `json:"components"`
	}
	body, _, err := p.get(ctx, svc.URL+"/actuator/health", "application/json")
	if err == nil {
		err = json.Unmarshal(body, &rep)
	}
	if err != nil || rep.Status == "" {
		return []Check{{Name: svc.Name, Status: "DOWN (no answer)"}}
	}
	out := []Check{{Name: svc.Name, Status: rep.Status}}
	for name, c := range rep.Components {
		out = append(out, Check{Name: svc.Name + " " + name, Status: c.Status})
	}
	return out
}

// metrics are svc's series, each labelled service="svc"; none when it
// does not answer. They are asked for in Prometheus's protobuf exposition,
// which decodes many times faster than the text one (still read, should a
// service answer with it).
func (p *Platform) metrics(ctx context.Context, svc Service) []*dto.MetricFamily {
	body, header, err := p.get(ctx, svc.URL+"/actuator/prometheus", string(expfmt.FmtProtoDelim)+";q=0.9,text/plain;version=0.0.4;q=0.5")
	if err != nil {
		return nil
	}
	format := expfmt.ResponseFormat(header)
	if format == expfmt.FmtUnknown {
		return nil
	}
	var out []*dto.MetricFamily
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); err != nil {
			break // io.EOF at the end; a malformed answer keeps what came before
		}
		for _, m := range f.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("service"), Value: proto.String(svc.Name)})
		}
		out = append(out, f)
	}
	return out
}

func (p *Platform) get(ctx context.Context, url, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxScrape))
	if err != nil {
		return nil, nil, err
	}
	// The health endpoint answers 503 with its report when DOWN.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, resp.Header, nil
}
