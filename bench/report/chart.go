package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// series is one line of a chart, in data coordinates.
type series struct {
	Name  string
	Color string
	X, Y  []float64
}

// tick is one labelled axis position, in data coordinates.
type tick struct {
	At    float64
	Label string
}

// chart is an SVG line chart with linear axes. Callers transform data that
// needs another scale (such as percentiles) before filling X.
type chart struct {
	Title          string
	XLabel, YLabel string
	XTicks         []tick
	XMin, XMax     float64
	YMax           float64 // zero: from the data
	YFormat        func(float64) string
	Series         []series
}

const (
	chartWidth  = 760
	chartHeight = 320
	marginLeft  = 70
	marginRight = 20
	marginTop   = 36
	marginBot   = 52
)

// svg renders the chart as an inline <svg> element.
func (c *chart) svg() template.HTML {
	yMax := c.YMax
	if yMax == 0 {
		for _, s := range c.Series {
			for _, y := range s.Y {
				yMax = max(yMax, y)
			}
		}
	}
	yMax = niceCeil(yMax)
	plotW := float64(chartWidth - marginLeft - marginRight)
	plotH := float64(chartHeight - marginTop - marginBot)
	xSpan := c.XMax - c.XMin
	if xSpan <= 0 {
		xSpan = 1
	}
	px := func(x float64) float64 { return marginLeft + (x-c.XMin)/xSpan*plotW }
	py := func(y float64) float64 { return marginTop + plotH - y/yMax*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		chartWidth, chartHeight, chartWidth, chartHeight, template.HTMLEscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="22" class="title">%s</text>`, marginLeft, template.HTMLEscapeString(c.Title))

	// Horizontal grid lines with y labels, five steps.
	for i := 0; i <= 5; i++ {
		y := yMax * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, marginLeft, marginLeft+plotW, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ylab">%s</text>`, marginLeft-6, py(y)+4, template.HTMLEscapeString(c.YFormat(y)))
	}
	for _, t := range c.XTicks {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" class="grid"/>`, px(t.At), px(t.At), marginTop, marginTop+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xlab">%s</text>`, px(t.At), marginTop+plotH+16, template.HTMLEscapeString(t.Label))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="axis">%s</text>`, marginLeft+plotW/2, chartHeight-8, template.HTMLEscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" class="axis">%s</text>`, marginTop+plotH/2, template.HTMLEscapeString(c.YLabel))

	for i, s := range c.Series {
		var points strings.Builder
		for j := range s.X {
			fmt.Fprintf(&points, "%.1f,%.1f ", px(s.X[j]), py(min(s.Y[j], yMax)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(points.String()), s.Color)
		if len(s.X) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(s.X[0]), py(min(s.Y[0], yMax)), s.Color)
		}
		if len(c.Series) > 1 {
			lx := marginLeft + 10 + float64(i)*170
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/>`, lx, marginTop+4, s.Color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="legend">%s</text>`, lx+16, marginTop+14, template.HTMLEscapeString(s.Name))
		}
	}
	b.WriteString(`<rect x="` + fmt.Sprint(marginLeft) + `" y="` + fmt.Sprint(marginTop) + `" width="` +
		fmt.Sprintf("%.1f", plotW) + `" height="` + fmt.Sprintf("%.1f", plotH) + `" class="frame"/>`)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to a short number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
// times a power of ten), so that the five grid steps get short labels.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*exp {
			return m * exp
		}
	}
	return 10 * exp
}

// ninesX maps a percentile to the "number of nines" scale: 90 → 1,
// 99 → 2, 99.9 → 3. The maximum (100) is drawn at 5.6 so it stays visible
// right of 99.999.
func ninesX(percentile float64) float64 {
	if percentile >= 100 {
		return 5.6
	}
	return -math.Log10(1 - percentile/100)
}

var ninesTicks = []tick{
	{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}, {5, "99.999%"}, {5.6, "max"},
}

func formatMsAxis(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v >= 1000:
		return fmt.Sprintf("%gs", v/1000)
	}
	return fmt.Sprintf("%gms", v)
}

func formatCountAxis(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
