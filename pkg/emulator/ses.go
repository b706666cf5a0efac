package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// SESProcess is a running aws-ses-v2-local emulator. Stop kills its process
// group.
type SESProcess struct {
	*Process
}

// StoredEmail is one email as the emulator's GET /store reports it.
type StoredEmail struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	// At is the emulator's receive time in epoch seconds.
	At int64 `json:"at"`
}

// SESBin is where scripts/deps.sh installs the emulator's launcher.
func SESBin() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", "node_modules", ".bin", "aws-ses-v2-local"), nil
}

// StartSES runs the SES v2 emulator on 127.0.0.1:port (0 picks a free port)
// and returns once its health check answers. Output goes to logw (nil
// discards it).
func StartSES(ctx context.Context, port int, logw ...io.Writer) (*SESProcess, error) {
	bin, err := SESBin()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("emulator: the SES emulator is not installed (%s missing): run scripts/deps.sh", bin)
	}
	var w io.Writer = io.Discard
	if len(logw) > 0 && logw[0] != nil {
		w = logw[0]
	}
	return onFreePort(ctx, port, func(port int) (*SESProcess, error) {
		return startSESOnce(ctx, bin, port, w)
	})
}

func startSESOnce(ctx context.Context, bin string, port int, w io.Writer) (*SESProcess, error) {
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = w, w
	// Same reasoning as for DynamoDB Local: its own group for Stop, Pdeathsig
	// so a killed test binary leaves no node behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start the SES emulator: %w", err)
	}
	p := &SESProcess{&Process{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitHealthy(ctx, 30*time.Second); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("emulator: SES emulator on port %d: %w", port, err)
	}
	return p, nil
}

func (p *SESProcess) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Endpoint+"/health-check", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Emails returns every email the emulator has accepted, oldest first.
func (p *SESProcess) Emails(ctx context.Context) ([]StoredEmail, error) {
	return SESEmails(ctx, p.Endpoint)
}

// SESEmails reads GET /store from an emulator at endpoint.
func SESEmails(ctx context.Context, endpoint string) ([]StoredEmail, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/store", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulator: read SES store: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator: read SES store: HTTP %d", resp.StatusCode)
	}
	var store struct {
		Emails []StoredEmail `json:"emails"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&store); err != nil {
		return nil, fmt.Errorf("emulator: decode SES store: %w", err)
	}
	return store.Emails, nil
}

// ClearEmails empties the emulator's store.
func (p *SESProcess) ClearEmails(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint+"/clear-store", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("emulator: clear SES store: HTTP " + strconv.Itoa(resp.StatusCode))
	}
	return nil
}

// SESClient is an SES v2 client for a local endpoint. The emulator insists on
// a SigV4 Authorization header, which the static credentials give.
func SESClient(endpoint string, optFns ...func(*sesv2.Options)) *sesv2.Client {
	return sesv2.New(sesv2.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}, optFns...)
}
