// Package docs holds the operator documents: runbook.md, the on-call
// runbook the platform targets, and operations.md, which says how the
// platform serves each of its steps. Its Go code reads the runbook's steps,
// so that tests can check the platform, and operations.md, against the text.
package docs

import (
	_ "embed"
	"regexp"
	"strings"
)

//go:embed runbook.md
var runbook string

// Section is one numbered subsection of the runbook (### N.M).
type Section struct {
	ID    string // "4.1"
	Title string // "Connection Management"
	// Steps in the order the runbook gives them. A section with neither
	// commands nor a numbered list (8.1's table) is one step, named by its title.
	Steps []Step
	// Blocks are its fenced blocks, as printed.
	Blocks []string
}

// Step is one thing the runbook asks for: a numbered item of a checklist,
// or a command in a fenced block with the comment above it.
type Step struct {
	// Label is the comment above the command, or a numbered item's bold
	// word: "Rolling restart all deployments", "Acknowledge".
	Label string
	// Command is the shell text of the step as printed, heredocs and
	// continuation lines included, commands the runbook gives without a
	// comment of their own appended; empty for a numbered item.
	Command string
}

// Runbook returns the runbook's subsections in order.
func Runbook() []Section {
	return ParseRunbook(runbook)
}

var (
	subsection = regexp.MustCompile(`^### (\d+\.\d+) (.+)$`)
	numbered   = regexp.MustCompile(`^\d+\. \*\*([^*]+)\*\*`)
	heredoc    = regexp.MustCompile(`<<-?\s*'?(\w+)'?`)
)

// ParseRunbook reads the subsections of a runbook written as runbook.md is.
func ParseRunbook(text string) []Section {
	var sections []Section
	var cur *Section
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := subsection.FindStringSubmatch(line); m != nil {
			sections = append(sections, Section{ID: m[1], Title: m[2]})
			cur = &sections[len(sections)-1]
			continue
		}
		if strings.HasPrefix(line, "## ") {
			cur = nil
			continue
		}
		if cur == nil {
			continue
		}
		if m := numbered.FindStringSubmatch(line); m != nil {
			cur.Steps = append(cur.Steps, Step{Label: m[1]})
			continue
		}
		if strings.HasPrefix(line, "```") {
			end := i + 1
			for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
				end++
			}
			block := lines[i+1 : min(end, len(lines))]
			cur.Blocks = append(cur.Blocks, strings.Join(block, "\n"))
			cur.Steps = append(cur.Steps, blockSteps(block)...)
			i = end
		}
	}
	for i := range sections {
		if len(sections[i].Steps) == 0 {
			sections[i].Steps = []Step{{Label: sections[i].Title}}
		}
	}
	return sections
}

// blockSteps splits a fenced block into steps: a comment line followed by a
// command starts one. A command after a blank line with no comment above it
// belongs to the step before it; comments followed by no command (notes,
// commented-out YAML) are no step.
func blockSteps(lines []string) []Step {
	var steps []Step
	var cmd []string
	flush := func() {
		if len(steps) > 0 && len(cmd) > 0 {
			s := &steps[len(steps)-1]
			s.Command = strings.TrimSpace(strings.Join(append([]string{s.Command}, cmd...), "\n"))
		}
		cmd = nil
	}
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "#"):
			flush()
			next := i + 1
			if next < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[next]), "#") && strings.TrimSpace(lines[next]) != "" {
				steps = append(steps, Step{Label: strings.TrimSpace(strings.TrimPrefix(t, "#"))})
			}
		default:
			cmd = append(cmd, lines[i])
			if m := heredoc.FindStringSubmatch(t); m != nil {
				for i++; i < len(lines); i++ {
					cmd = append(cmd, lines[i])
					if strings.TrimSpace(lines[i]) == m[1] {
						break
					}
				}
			}
		}
	}
	flush()
	return steps
}
