// Package sqsserver runs a local SQS server (npm local-aws-sqs, pinned in
// this folder's package.json) for tests: the SQS implementation of
// queue.Queue runs its contract tests against it.
package sqsserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// RequireEnv names the variable that turns a missing tool into a failure
// instead of a skip (CI sets it).
const RequireEnv = "BANK_REQUIRE_TOOLS"

// Dir is this folder, where package.json and start.mjs are.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Start starts the server on a free loopback port and returns its endpoint
// (http://127.0.0.1:PORT); it stops when the test ends. Without node or
// node_modules (npm ci in this folder) it skips the test, or fails it when
// BANK_REQUIRE_TOOLS is set.
func Start(t testing.TB) string {
	t.Helper()
	dir := Dir()
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not installed (Debian: apt-get install nodejs npm)"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "local-aws-sqs")); err != nil {
		missing = "the local SQS server is not installed: run npm ci in " + dir
	}
	if missing != "" {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s (%s is set)", missing, RequireEnv)
		}
		t.Skip(missing)
	}
	cmd := exec.Command(node, "start.mjs", "0")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the local SQS server: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "listening ") {
				lines <- strings.TrimPrefix(s.Text(), "listening ")
			}
		}
	}()
	select {
	case port := <-lines:
		if _, err := strconv.Atoi(port); err != nil {
			t.Fatalf("local SQS server: port %q", port)
		}
		return "http://127.0.0.1:" + port
	case <-time.After(20 * time.Second):
		t.Fatal("the local SQS server did not start within 20 s")
	}
	return ""
}

// Client returns an SQS client of the server at endpoint, with throwaway
// credentials.
func Client(endpoint string) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// NewQueues creates a fresh main queue and its dead-letter queue, joined by
// a RedrivePolicy, and returns the main queue's URL. Names are new for every
// call: the server's PurgeQueue takes 60 s to act, so tests never share one.
func NewQueues(t testing.TB, client *sqs.Client, visibility time.Duration, maxReceive int) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")}); err != nil {
		t.Fatalf("create queue %s-dlq: %v", name, err)
	}
	// maxReceiveCount as a string here, as the AWS console writes it.
	policy := fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:%s-dlq","maxReceiveCount":"%d"}`, name, maxReceive)
	main, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second)),
		"RedrivePolicy":     policy,
	}})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return aws.ToString(main.QueueUrl)
}
