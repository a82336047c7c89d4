// A chart of figures per UTC day: grouped bars, stacked bars or lines, drawn as SVG with a caption
// that says the figures in words and a table of every day behind a toggle, so the chart is read
// by screen readers and by people who prefer numbers.
//
// Hand-written rather than a chart library: the app needs three simple shapes on a day axis, and
// a library (Recharts, Chart.js, ECharts) would more than double the app's script for them; the
// text alternatives are ours to write either way. Colours and strokes come from classes in
// daily-chart.css, geometry from SVG attributes: nothing here needs inline styles under the CSP.
import { useEffect, useId, useRef, useState } from 'react';
import './daily-chart.css';

export interface ChartSeries {
  name: string;
  /** One per day of `days`; null: no figure that day (a gap in a line). */
  values: (number | null)[];
}

export interface DailyChartProps {
  title: string;
  /** UTC days, YYYY-MM-DD, in order. */
  days: string[];
  series: ChartSeries[];
  kind: 'bars' | 'stacked' | 'lines';
  format: (value: number) => string;
  /** The figures in a sentence or two: the chart's text alternative. */
  summary: string;
  /** A horizontal line to read the bars against (a budget); bars above it are marked. */
  reference?: { value: number; label: string };
  /** The y axis reaches at least this (1 for shares). */
  minMax?: number;
}

const H = 220;
const M = { top: 12, right: 12, bottom: 28, left: 56 };
const PLOT_H = H - M.top - M.bottom;

/** The element's width in CSS pixels, followed as it changes: the chart is drawn at its real size so its text stays readable on a phone. */
function useWidth<T extends HTMLElement>(initial: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const observer = new ResizeObserver(([entry]) => entry && setWidth(Math.round(entry.contentRect.width)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

/** The smallest 1, 2 or 5 × 10^k at or above `v`: round gridlines. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * step >= v) ?? 10) * step;
}

export const shortDay = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export function DailyChart({ title, days, series, kind, format, summary, reference, minMax = 0 }: DailyChartProps) {
  const id = useId();
  const [box, measured] = useWidth<HTMLDivElement>(640);
  const W = Math.max(260, measured);
  const PLOT_W = W - M.left - M.right;
  const stackTotals = days.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const highest = kind === 'stacked' ? Math.max(0, ...stackTotals) : Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const max = niceMax(Math.max(highest, reference?.value ?? 0, minMax));
  const y = (v: number) => M.top + PLOT_H - (v / max) * PLOT_H;
  const band = PLOT_W / Math.max(1, days.length);
  const x = (i: number) => M.left + i * band;
  // Day labels 60 px apart at least.
  const labelEvery = Math.ceil(days.length / Math.max(1, Math.floor(PLOT_W / 60)));
  const over = reference !== undefined && series.some((s) => s.values.some((v) => (v ?? 0) > reference.value));

  return (
    <figure className="daily-chart">
      <h4 className="chart-title">{title}</h4>
      <div ref={box} className="chart-box">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-labelledby={`${id}-summary`} className={`chart chart-${kind}`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f} className="grid">
            <line x1={M.left} x2={W - M.right} y1={y(max * f)} y2={y(max * f)} />
            <text x={M.left - 6} y={y(max * f)} dy="0.32em" textAnchor="end">{format(max * f)}</text>
          </g>
        ))}
        {days.map((day, i) => (i % labelEvery === 0 || i === days.length - 1) && (
          <text key={day} className="day-label" x={x(i) + band / 2} y={H - 8} textAnchor="middle">{shortDay(day)}</text>
        ))}
        {kind === 'lines' ? <Lines series={series} x={(i) => x(i) + band / 2} y={y} /> : days.map((day, i) => {
          let base = 0;
          const width = kind === 'stacked' ? band * 0.7 : (band * 0.8) / Math.max(1, series.length);
          return series.map((s, k) => {
            const v = s.values[i] ?? 0;
            if (v <= 0) return null;
            const left = kind === 'stacked' ? x(i) + band * 0.15 : x(i) + band * 0.1 + k * width;
            const bottom = kind === 'stacked' ? base : 0;
            if (kind === 'stacked') base += v;
            const above = reference && bottom + v > reference.value;
            return (
              <rect key={`${day}-${s.name}`} className={`series-${k}${above ? ' over' : ''}`} x={left} width={Math.max(1, width - 1)} y={y(bottom + v)} height={y(bottom) - y(bottom + v)}>
                <title>{`${shortDay(day)}, ${s.name}: ${format(v)}`}</title>
              </rect>
            );
          });
        })}
        {reference && (
          <g className="reference">
            <line x1={M.left} x2={W - M.right} y1={y(reference.value)} y2={y(reference.value)} />
            <text x={W - M.right} y={y(reference.value) - 4} textAnchor="end">{reference.label}</text>
          </g>
        )}
      </svg>
      </div>
      <ul className="legend" aria-hidden="true">
        {series.map((s, k) => <li key={s.name}><span className={`swatch series-${k}`} />{s.name}</li>)}
        {reference && <li><span className="swatch reference" />{reference.label}</li>}
        {over && <li><span className="swatch over" />Over it</li>}
      </ul>
      <figcaption id={`${id}-summary`} className="chart-summary">{summary}</figcaption>
      <details className="chart-figures">
        <summary>Figures by day</summary>
        <div className="table-wrap" tabIndex={0} role="region" aria-label={`${title} by day`}>
          <table>
            <caption className="visually-hidden">{title} by day</caption>
            <thead>
              <tr><th scope="col">Day</th>{series.map((s) => <th scope="col" key={s.name}>{s.name}</th>)}</tr>
            </thead>
            <tbody>
              {days.map((day, i) => (
                <tr key={day} data-day={day}>
                  <th scope="row">{day}</th>
                  {series.map((s) => <td key={s.name}>{s.values[i] === null ? '—' : format(s.values[i]!)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** One polyline per series, broken where a day has no figure, with a dot on every figure. */
function Lines({ series, x, y }: { series: ChartSeries[]; x: (i: number) => number; y: (v: number) => number }) {
  return (
    <>
      {series.map((s, k) => {
        const runs: [number, number][][] = [[]];
        s.values.forEach((v, i) => (v === null ? runs.push([]) : runs[runs.length - 1]!.push([x(i), y(v)])));
        return (
          <g key={s.name} className={`series-${k}`}>
            {runs.filter((r) => r.length > 1).map((r) => <polyline key={r[0]!.join()} points={r.map((p) => p.join(',')).join(' ')} />)}
            {runs.flat().map(([px, py]) => <circle key={`${px}`} cx={px} cy={py} r={3.5} />)}
          </g>
        );
      })}
    </>
  );
}
