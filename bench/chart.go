//go:build linux

package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"
)

// chart draws the headline figures as "PM2 ÷ tend" bars on a log scale: how
// many times cheaper or faster tend is. Only the standard library: the text is
// a 5×7 bitmap font below.
func (r *runner) chart() []byte {
	type bar struct {
		label  string
		factor float64 // PM2 / tend
		text   string
	}
	var bars []bar
	for _, row := range rows {
		if row.Chart == "" || r.res[row.ID] == nil {
			continue
		}
		a, aOver := value(r.res[row.ID]["tend"])
		b, bOver := value(r.res[row.ID]["PM2"])
		if math.IsNaN(a) || math.IsNaN(b) || aOver && bOver {
			continue
		}
		switch {
		case a == 0 && b == 0:
			continue
		case a == 0:
			bars = append(bars, bar{row.Chart, math.Inf(1), "TEND 0, PM2 " + fmtNum(b, row.Dec)})
		case b == 0:
			bars = append(bars, bar{row.Chart, 0, "PM2 0"})
		default:
			f := b / a
			t := strconv.FormatFloat(f, 'f', 0, 64) + "x"
			if f < 10 {
				t = strconv.FormatFloat(f, 'f', 1, 64) + "x"
			}
			if aOver {
				t = "< " + t
			} else if bOver {
				t = "> " + t
			}
			bars = append(bars, bar{row.Chart, f, t})
		}
	}
	if len(bars) == 0 {
		return nil
	}
	lo, hi := -1.0, 3.0
	for _, b := range bars {
		if b.factor > 0 && !math.IsInf(b.factor, 1) {
			lo = math.Min(lo, math.Floor(math.Log10(b.factor)))
			hi = math.Max(hi, math.Ceil(math.Log10(b.factor)))
		}
	}
	const (
		scale  = 2
		rowH   = 34
		top    = 80
		left   = 250
		width  = 1000
		right  = 130
		barH   = 20
		bottom = 60
	)
	height := top + rowH*len(bars) + bottom
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	x0, x1 := left, width-right
	xOf := func(f float64) int {
		if f <= 0 {
			return x0
		}
		if math.IsInf(f, 1) {
			return x1
		}
		return x0 + int(float64(x1-x0)*(math.Log10(f)-lo)/(hi-lo))
	}
	black := color.RGBA{30, 30, 30, 255}
	grey := color.RGBA{215, 215, 215, 255}
	green := color.RGBA{46, 139, 87, 255}
	red := color.RGBA{200, 60, 50, 255}
	text(img, 20, 16, "TEND VS PM2 "+strings.ToUpper(r.pm2Version()), scale, black)
	text(img, 20, 40, "HOW MANY TIMES FASTER OR CHEAPER (PM2 / TEND), LOG SCALE", scale, black)
	for e := lo; e <= hi; e++ {
		x := xOf(math.Pow(10, e))
		c := grey
		if e == 0 {
			c = black
		}
		fill(img, image.Rect(x, top-6, x+1, top+rowH*len(bars)), c)
		lab := strconv.FormatFloat(math.Pow(10, e), 'f', -1, 64) + "x"
		text(img, x-len(lab)*6*scale/2, top+rowH*len(bars)+10, lab, scale, black)
	}
	for i, b := range bars {
		y := top + i*rowH + (rowH-barH)/2
		text(img, 20, y+3, b.label, scale, black)
		one := xOf(1)
		xb := xOf(b.factor)
		c := green
		if b.factor < 1 {
			c = red
		}
		if xb >= one {
			fill(img, image.Rect(one, y, max(xb, one+2), y+barH), c)
		} else {
			fill(img, image.Rect(xb, y, one, y+barH), c)
		}
		tx := max(xb, one) + 8
		if tx+len(b.text)*6*scale > width {
			// No room after the bar: the label goes inside its end, in white.
			tx = max(xb, one) - len(b.text)*6*scale - 8
			text(img, tx, y+3, b.text, scale, color.RGBA{255, 255, 255, 255})
			continue
		}
		text(img, tx, y+3, b.text, scale, black)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil
	}
	return buf.Bytes()
}

func (r *runner) pm2Version() string {
	for _, t := range r.tools {
		if t.Name() == "PM2" {
			return fmt.Sprintf("%s, %s", strings.Fields(t.Version())[0], r.meta["date"])
		}
	}
	if v := r.meta["pm2"]; v != "" {
		return fmt.Sprintf("%s, %s", v, r.meta["date"])
	}
	return r.meta["date"]
}

func fill(img *image.RGBA, rect image.Rectangle, c color.RGBA) {
	rect = rect.Intersect(img.Bounds())
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// text draws s at (x, y) (top left) in the 5×7 font, each dot scale² pixels.
func text(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for _, ch := range s {
		g, ok := font[ch]
		if !ok {
			g, ok = font[[]rune(strings.ToUpper(string(ch)))[0]]
		}
		if ok {
			for row, line := range g {
				for col, dot := range line {
					if dot == '#' {
						fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

var font = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'<': {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'x': {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"},
}
