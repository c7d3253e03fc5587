import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  blendChannel, localOutputPaths, renderKeyImagePng, renderReportHtml, writeLocalOutputs, type ReportPageInput,
} from '../../../src/pipeline/local-output/index.ts';
import { RESEARCH_USE_STATEMENT } from '../../../src/shared/research-use-notice.ts';

const dir = mkdtempSync(join(tmpdir(), 'local-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// 8x6 gradient with a 4x3 mask block at x 2..5, y 1..3: (3..4, 2) is its only interior pixel.
const W = 8;
const H = 6;
const grey = Uint8Array.from({ length: W * H }, (_, i) => (i * 5) % 256);
const mask = new Uint8Array(W * H);
for (let y = 1; y <= 3; y++) for (let x = 2; x <= 5; x++) mask[y * W + x] = 1;

function pixel(png: PNG, x: number, y: number): [number, number, number, number] {
  const o = (y * png.width + x) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!, png.data[o + 3]!];
}

describe('renderKeyImagePng', () => {
  it('decodes to the grey image where the mask is 0, a blend inside, the full colour on the outline', () => {
    const colour = [0, 200, 255] as const;
    const png = PNG.sync.read(renderKeyImagePng({ width: W, height: H, grey, mask, maskColour: colour, maskOpacity: 0.5 }));
    expect([png.width, png.height]).toEqual([W, H]);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const g = grey[y * W + x]!;
        const [r, gr, b, a] = pixel(png, x, y);
        expect(a).toBe(255);
        if (mask[y * W + x] === 0) {
          expect([r, gr, b]).toEqual([g, g, g]);
        } else if (y === 2 && (x === 3 || x === 4)) {
          expect([r, gr, b]).toEqual(colour.map((c) => blendChannel(g, c, 0.5)));
          expect([r, gr, b]).not.toEqual([g, g, g]);
        } else {
          expect([r, gr, b]).toEqual([...colour]);
        }
      }
    }
  });

  it('without a mask is the grey image; RGB input passes through', () => {
    const plain = PNG.sync.read(renderKeyImagePng({ width: W, height: H, grey }));
    expect(pixel(plain, 7, 5)).toEqual([grey[47]!, grey[47]!, grey[47]!, 255]);
    const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 7) % 256);
    const colour = PNG.sync.read(renderKeyImagePng({ width: W, height: H, rgb }));
    expect(pixel(colour, 1, 0)).toEqual([rgb[3]!, rgb[4]!, rgb[5]!, 255]);
  });

  it('a mask touching the image border is outlined there too', () => {
    const full = new Uint8Array(W * H).fill(1);
    const png = PNG.sync.read(renderKeyImagePng({ width: W, height: H, grey, mask: full, maskColour: [10, 20, 30] }));
    expect(pixel(png, 0, 0).slice(0, 3)).toEqual([10, 20, 30]);
    expect(pixel(png, 3, 3).slice(0, 3)).toEqual([10, 20, 30].map((c) => blendChannel(grey[27]!, c, 0.4)));
  });

  it('rejects inconsistent sizes', () => {
    expect(() => renderKeyImagePng({ width: W, height: H, grey: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => renderKeyImagePng({ width: W, height: H, grey, mask: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => renderKeyImagePng({ width: W, height: H })).toThrow(TypeError);
    expect(() => renderKeyImagePng({ width: 0, height: H, grey })).toThrow(RangeError);
  });
});

const page: ReportPageInput = {
  title: 'Chest CT — UniMedVL analysis',
  reportText: 'FINDINGS:\n  1. Lungs clear <script>alert("x")</script> & "quoted"\n\nIMPRESSION: none',
  modelName: 'UniMedVL',
  modelVersion: 'tiny-0.1',
  keyImages: [{ file: 'images/ct-lung-segmentation-2.png', caption: 'Slice 3 of 5 <b>lungs</b>' }],
  studySummary: [
    { label: 'Patient', value: 'DEMO^SAMPLE' },
    { label: 'Series', value: 'CT (5 images), MR <1>' },
  ],
  generatedAt: new Date('2026-01-02T03:04:05Z'),
  files: ['dicom/seg.dcm', 'fhir-bundle.json', 'report.html'],
};

describe('renderReportHtml', () => {
  const html = renderReportHtml(page);

  it('shows the research-use banner prominently, before the report', () => {
    const banner = html.indexOf(`<p class="banner" role="note">`);
    expect(banner).toBeGreaterThan(html.indexOf('<body>'));
    expect(html.indexOf(RESEARCH_USE_STATEMENT)).toBeGreaterThan(banner);
    expect(html.indexOf(RESEARCH_USE_STATEMENT)).toBeLessThan(html.indexOf('Report draft'));
  });

  it('escapes report text, captions and summary values; keeps whitespace', () => {
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>lungs</b>');
    expect(html).toContain('Lungs clear &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot;');
    expect(html).toContain('<div class="report-text">FINDINGS:\n  1. Lungs clear');
    expect(html).toContain('white-space: pre-wrap');
    expect(html).toContain('MR &lt;1&gt;');
    expect(html).toContain('alt="Slice 3 of 5 &lt;b&gt;lungs&lt;/b&gt;"');
  });

  it('is self-contained: inline CSS, no scripts, no external references, relative images', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).not.toMatch(/<script|<link|@import|https?:\/\//i);
    expect(html).toContain('<img src="images/ct-lung-segmentation-2.png"');
    expect(html).toContain('UniMedVL tiny-0.1');
    expect(html).toContain('2026-01-02T03:04:05.000Z');
    for (const f of page.files) expect(html).toContain(`<code>${f}</code>`);
    expect(html.match(/<section/g)).toHaveLength(4);
    expect(html.match(/<\/section>/g)).toHaveLength(4);
  });

  it('renders one heading per report section', () => {
    const multi = renderReportHtml({ ...page, reportText: [{ heading: 'CT <chest>', text: 'a' }, { heading: 'DX', text: 'b' }] });
    expect(multi).toContain('<h3>CT &lt;chest&gt;</h3>\n<div class="report-text">a</div>');
    expect(multi).toContain('<h3>DX</h3>\n<div class="report-text">b</div>');
  });

  it('refuses image paths that leave the folder or point elsewhere', () => {
    for (const file of ['/etc/x.png', '../x.png', 'images/../../x.png', 'https://example.org/x.png', 'javascript:alert(1)', 'a"onerror="x.png']) {
      expect(() => renderReportHtml({ ...page, keyImages: [{ file, caption: 'c' }] })).toThrow(TypeError);
    }
  });
});

describe('writeLocalOutputs', () => {
  it('writes dicom/, images/, fhir-bundle.json and report.html, returning the relative paths', () => {
    const out = join(dir, 'out');
    const png = renderKeyImagePng({ width: W, height: H, grey, mask });
    const files = {
      dicomFiles: [{ name: 'seg.dcm', bytes: new Uint8Array([1, 2, 3]) }, { name: 'sr.dcm', bytes: new Uint8Array([4]) }],
      pngs: [{ name: 'key-1.png', bytes: png }],
    };
    const html = renderReportHtml({ ...page, files: localOutputPaths(files) });
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [] };
    const written = writeLocalOutputs(out, { ...files, fhirBundle: bundle, html });
    expect(written).toEqual(['dicom/seg.dcm', 'dicom/sr.dcm', 'images/key-1.png', 'fhir-bundle.json', 'report.html']);
    expect(readdirSync(join(out, 'dicom')).sort()).toEqual(['seg.dcm', 'sr.dcm']);
    expect([...readFileSync(join(out, 'dicom', 'seg.dcm'))]).toEqual([1, 2, 3]);
    expect(PNG.sync.read(readFileSync(join(out, 'images', 'key-1.png'))).width).toBe(W);
    expect(JSON.parse(readFileSync(join(out, 'fhir-bundle.json'), 'utf8'))).toEqual(bundle);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toBe(html);
    expect(html).toContain('<code>dicom/sr.dcm</code>');
  });

  it('rejects names that are not plain, unique files of the right type, before writing anything', () => {
    const out = join(dir, 'bad');
    const bytes = new Uint8Array(1);
    for (const dicomFiles of [[{ name: '../x.dcm', bytes }], [{ name: 'x.png', bytes }], [{ name: 'a.dcm', bytes }, { name: 'a.dcm', bytes }]]) {
      expect(() => writeLocalOutputs(out, { dicomFiles, pngs: [], fhirBundle: {}, html: '' })).toThrow(TypeError);
    }
    expect(existsSync(out)).toBe(false);
  });
});
