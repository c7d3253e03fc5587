#!/usr/bin/python3
"""Builds the DICOM test fixtures into a cache folder (run with Debian /usr/bin/python3: pydicom, numpy, PIL).

  make_fixtures.py samples --out DIR          pydicom samples with fresh UIDs, synthesized edge cases and
                                              reference pixels decoded by dcmtk (or Pillow for JPEG 2000)
  make_fixtures.py ct --out DIR --slices N    a synthesized CT series and its transfer-syntax variants

Every folder gets a manifest.json that test/support/fixtures.ts reads. Reference pixels are raw stored
values (little endian, frame-major, samples interleaved) so tests compare decoders byte for byte.
"""
import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
                         generate_uid)

SAMPLE_DIR = os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files')

# Fake identity carried by every synthesized instance: tests search logs for these strings.
PATIENT = {
    'name': 'FIXTURE^ZQXPATIENT^ALPHA',
    'id': 'FXP-7731-QZ',
    'birthDate': '19510317',
    'accessionNumber': 'ACCFX55821',
}

TS = {
    'implicit-le': '1.2.840.10008.1.2',
    'explicit-le': '1.2.840.10008.1.2.1',
    'deflated': '1.2.840.10008.1.2.1.99',
    'explicit-be': '1.2.840.10008.1.2.2',
    'jpeg-baseline': '1.2.840.10008.1.2.4.50',
    'jpeg-extended': '1.2.840.10008.1.2.4.51',
    'jpeg-lossless': '1.2.840.10008.1.2.4.57',
    'jpeg-lossless-sv1': '1.2.840.10008.1.2.4.70',
    'jpeg-ls-lossless': '1.2.840.10008.1.2.4.80',
    'jpeg-ls-near': '1.2.840.10008.1.2.4.81',
    'j2k-lossless': '1.2.840.10008.1.2.4.90',
    'j2k': '1.2.840.10008.1.2.4.91',
    'rle': '1.2.840.10008.1.2.5',
}

JPEG_2000 = {TS['j2k-lossless'], TS['j2k']}


def run(cmd):
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors='replace'))
        raise SystemExit('fixture step failed: ' + ' '.join(cmd))


def fresh_uids(path):
    run(['dcmodify', '-nb', '-q', '-gst', '-gse', '-gin', path])


def to_explicit_le(src, dst):
    """dcmtk's own decode of `src` into uncompressed explicit little endian."""
    ts = pydicom.dcmread(src, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if ts in (TS['jpeg-baseline'], TS['jpeg-extended'], TS['jpeg-lossless'], TS['jpeg-lossless-sv1']):
        run(['dcmdjpeg', src, dst])
    elif ts in (TS['jpeg-ls-lossless'], TS['jpeg-ls-near']):
        run(['dcmdjpls', src, dst])
    elif ts == TS['rle']:
        run(['dcmdrle', src, dst])
    else:
        run(['dcmconv', '+te', src, dst])


def stored_array(ds):
    """Stored pixel values of an uncompressed dataset as (frames, rows, cols[, samples]), no colour change."""
    arr = ds.pixel_array
    frames = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    spp = int(ds.SamplesPerPixel)
    shape = (frames, int(ds.Rows), int(ds.Columns)) + ((spp,) if spp > 1 else ())
    return arr.reshape(shape)


def dtype_name(arr):
    return {np.dtype('uint8'): 'uint8', np.dtype('int8'): 'int8', np.dtype('uint16'): 'uint16',
            np.dtype('int16'): 'int16'}[arr.dtype]


def write_reference(arr, raw_path):
    arr.astype(arr.dtype.newbyteorder('<')).tofile(raw_path)
    return {'raw': os.path.basename(raw_path), 'dtype': dtype_name(arr)}


# --- samples -------------------------------------------------------------------------------------------

# name -> pydicom sample file; each copy gets new Study/Series/SOP UIDs.
SAMPLES = {
    'CT_small': 'CT_small.dcm',
    'MR_small': 'MR_small.dcm',
    'MR_small_implicit': 'MR_small_implicit.dcm',
    'MR_small_bigendian': 'MR_small_bigendian.dcm',
    'MR_small_RLE': 'MR_small_RLE.dcm',
    'MR_small_jpeg_ls_lossless': 'MR_small_jpeg_ls_lossless.dcm',
    'MR_small_jp2klossless': 'MR_small_jp2klossless.dcm',
    'SC_rgb_rle': 'SC_rgb_rle.dcm',
    'SC_rgb_rle_2frame': 'SC_rgb_rle_2frame.dcm',
    'SC_rgb_jpeg_dcmtk': 'SC_rgb_jpeg_dcmtk.dcm',          # JPEG baseline, YBR_FULL
    'SC_rgb_dcmtk_jpeg_rgb': 'SC_rgb_dcmtk_+eb+cr.dcm',      # JPEG baseline, RGB (no colour transform)
    'SC_rgb_jpeg_422': 'SC_rgb_dcmtk_+eb+cy+s2.dcm',       # JPEG baseline, YBR_FULL_422
    'SC_ybr_full_422_uncompressed': 'SC_ybr_full_422_uncompressed.dcm',
    'JPGExtended': 'JPGExtended.dcm',                       # 12-bit JPEG extended: no local decoder
    'JPEG2000': 'JPEG2000.dcm',                             # lossy-capable J2K syntax, 16-bit signed
    'image_dfl': 'image_dfl.dcm',                           # deflated explicit little endian
}


def derive_samples(out):
    """Edge cases that the pydicom samples lack, made from them with dcmtk or pydicom."""
    s = lambda n: os.path.join(out, n + '.dcm')  # noqa: E731
    # Plain uncompressed RGB (planar 0) from dcmtk's RLE decode, and its planar-configuration-1 twin.
    run(['dcmdrle', s('SC_rgb_rle'), s('SC_rgb')])
    fresh_uids(s('SC_rgb'))
    ds = pydicom.dcmread(s('SC_rgb'))
    rgb = ds.pixel_array  # (rows, cols, 3)
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.save_as(s('SC_rgb_planar'))
    # MONOCHROME1: the MR pixels declared inverse-grey (no pydicom sample is MONOCHROME1).
    ds = pydicom.dcmread(s('MR_small'))
    ds.PhotometricInterpretation = 'MONOCHROME1'
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.save_as(s('MR_small_mono1'))
    # JPEG lossless, both flavours, made by dcmtk from the uncompressed MR.
    run(['dcmcjpeg', '+e1', s('MR_small'), s('MR_small_jpeg_lossless_sv1')])
    run(['dcmcjpeg', '+el', '+sv', '3', s('MR_small'), s('MR_small_jpeg_lossless')])
    run(['dcmcjpeg', '+eb', '+s4', s('SC_rgb'), s('SC_rgb_jpeg_baseline_444')])
    for n in ('MR_small_jpeg_lossless_sv1', 'MR_small_jpeg_lossless', 'SC_rgb_jpeg_baseline_444'):
        fresh_uids(s(n))
    # Enhanced-style grey multi-frame with per-frame positions, plus fragmented JPEG-LS and JPEG lossless copies.
    write_multiframe(s('MF_grey'))
    run(['dcmcjpeg', '+e1', '+fs', '1', s('MF_grey'), s('MF_grey_jpeg_lossless_fragmented')])
    run(['dcmcjpls', s('MF_grey'), s('MF_grey_jpeg_ls')])
    run(['dcmcrle', s('MF_grey'), s('MF_grey_rle')])
    for n in ('MF_grey_jpeg_lossless_fragmented', 'MF_grey_jpeg_ls', 'MF_grey_rle'):
        fresh_uids(s(n))
    # Colour through JPEG-LS (dcmtk) and reversible JPEG 2000 with the RCT colour transform (Pillow).
    run(['dcmcjpls', s('SC_rgb'), s('SC_rgb_jpeg_ls')])
    run(['dcmcjpls', '+in', s('SC_rgb'), s('SC_rgb_jpeg_ls_planar')])  # colour scan not interleaved
    fresh_uids(s('SC_rgb_jpeg_ls'))
    fresh_uids(s('SC_rgb_jpeg_ls_planar'))
    j2k_lossless(s('SC_rgb'), s('SC_rgb_j2k_rct'))
    # 8-bit grey through JPEG baseline, 8-bit JPEG lossless and JPEG-LS near-lossless.
    run(['dcmconv', '+te', s('image_dfl'), s('grey8')])
    run(['dcmcjpeg', '+eb', s('grey8'), s('grey8_jpeg_baseline')])
    run(['dcmcjpeg', '+e1', s('grey8'), s('grey8_jpeg_lossless')])
    run(['dcmcjpls', '+en', s('grey8'), s('grey8_jpeg_ls_near')])
    # 12 of 16 bits stored, signed: codecs return 12-bit values that the decoder must sign-extend.
    write_ct12(s('CT12_signed'))
    run(['dcmcjpeg', '+e1', s('CT12_signed'), s('CT12_signed_jpeg_lossless')])
    run(['dcmcjpls', s('CT12_signed'), s('CT12_signed_jpeg_ls')])
    run(['dcmcrle', s('CT12_signed'), s('CT12_signed_rle')])
    for n in ('grey8', 'grey8_jpeg_baseline', 'grey8_jpeg_lossless', 'grey8_jpeg_ls_near', 'CT12_signed_jpeg_lossless',
              'CT12_signed_jpeg_ls', 'CT12_signed_rle'):
        fresh_uids(s(n))
    return ['SC_rgb_jpeg_ls', 'SC_rgb_jpeg_ls_planar', 'SC_rgb_j2k_rct', 'grey8', 'grey8_jpeg_baseline', 'grey8_jpeg_lossless', 'grey8_jpeg_ls_near', 'CT12_signed',
            'CT12_signed_jpeg_lossless', 'CT12_signed_jpeg_ls', 'CT12_signed_rle', 'SC_rgb', 'SC_rgb_planar', 'MR_small_mono1', 'MR_small_jpeg_lossless_sv1', 'MR_small_jpeg_lossless',
            'SC_rgb_jpeg_baseline_444', 'MF_grey', 'MF_grey_jpeg_lossless_fragmented', 'MF_grey_jpeg_ls',
            'MF_grey_rle']


def phantom_slice(z_mm, size, rng, noise=True):
    """Stored CT values (HU + 1024) of an ellipse phantom; outside the scan circle is padding (-2000)."""
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    u, v = (x - c) / (size / 2.0), (y - c) / (size / 2.0)
    hu = np.full((size, size), -1000.0, np.float32)

    def ell(cx, cy, rx, ry):
        return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1.0

    hu[ell(0, 0, 0.80, 0.62)] = 40.0
    hu[ell(-0.36, -0.05, 0.26, 0.36)] = -820.0
    hu[ell(0.36, -0.05, 0.26, 0.36)] = -820.0
    hu[ell(0, 0.42, 0.11, 0.09)] = 700.0
    r = 0.12 * max(0.0, 1.0 - abs(z_mm) / 80.0)  # a lesion whose size changes along z
    if r > 0:
        hu[ell(0.12, -0.28, r, r)] = 75.0
    hu += 30.0 * u * v  # smooth shading so neighbours differ
    if noise:
        hu += rng.normal(0.0, 4.0, hu.shape).astype(np.float32)
    stored = np.round(hu + 1024.0).astype(np.int16)
    stored[u * u + v * v > 1.0] = -2000
    return stored


def base_dataset(sop_class, study_uid, series_uid, sop_uid, modality):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b'\0' * 128)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SpecificCharacterSet = 'ISO_IR 100'
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientName, ds.PatientID = PATIENT['name'], PATIENT['id']
    ds.PatientBirthDate, ds.PatientSex = PATIENT['birthDate'], 'O'
    ds.AccessionNumber = PATIENT['accessionNumber']
    ds.StudyDate, ds.StudyTime, ds.StudyID = '20240105', '101500', 'FX1'
    ds.ReferringPhysicianName = ''
    ds.Modality, ds.SeriesNumber = modality, 3
    ds.Manufacturer = 'unimedvl-fixtures'
    ds.BodyPartExamined = 'CHEST'
    return ds


def set_grey_pixels(ds, arr):
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
    ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = arr.astype('<i2').tobytes()


def write_ct12(path, size=64):
    rng = np.random.default_rng(12)
    ds = base_dataset('1.2.840.10008.5.1.4.1.1.2', generate_uid(), generate_uid(), generate_uid(), 'CT')
    set_grey_pixels(ds, phantom_slice(0.0, size, rng))
    ds.BitsStored, ds.HighBit = 12, 11
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.InstanceNumber = 1
    ds.save_as(path, write_like_original=False)


def write_multiframe(path, frames=6, size=64):
    rng = np.random.default_rng(7)
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    ds = base_dataset('1.2.840.10008.5.1.4.1.1.2.1', study, series, sop, 'CT')  # Enhanced CT Storage
    zs = [10.0 - 3.0 * k for k in range(frames)]  # stored top-down: assembly must keep or sort them
    arr = np.stack([phantom_slice(z, size, rng) for z in zs])
    set_grey_pixels(ds, arr)
    ds.NumberOfFrames = frames
    ds.FrameOfReferenceUID = generate_uid()
    ds.InstanceNumber = 1
    ds.ImageType = ['ORIGINAL', 'PRIMARY', 'AXIAL', 'NONE']
    shared = Dataset()
    pm, po, voi, rs = Dataset(), Dataset(), Dataset(), Dataset()
    pm.PixelSpacing, pm.SliceThickness = [5.6, 5.6], 3.0
    po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    voi.WindowCenter, voi.WindowWidth = 40, 400
    rs.RescaleIntercept, rs.RescaleSlope, rs.RescaleType = -1024, 1, 'HU'
    shared.PixelMeasuresSequence = Sequence([pm])
    shared.PlaneOrientationSequence = Sequence([po])
    shared.FrameVOILUTSequence = Sequence([voi])
    shared.PixelValueTransformationSequence = Sequence([rs])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for z in zs:
        f, pp = Dataset(), Dataset()
        pp.ImagePositionPatient = [-179.2, -179.2, z]
        f.PlanePositionSequence = Sequence([pp])
        per.append(f)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.save_as(path, write_like_original=False)


def build_samples(out):
    os.makedirs(out, exist_ok=True)
    for name, src in SAMPLES.items():
        dst = os.path.join(out, name + '.dcm')
        shutil.copyfile(os.path.join(SAMPLE_DIR, src), dst)
        fresh_uids(dst)
    names = list(SAMPLES) + derive_samples(out)
    ref_dir = os.path.join(out, 'reference')
    os.makedirs(ref_dir, exist_ok=True)
    manifest = {'patient': PATIENT, 'samples': {}}
    for name in names:
        path = os.path.join(out, name + '.dcm')
        head = pydicom.dcmread(path, stop_before_pixels=True)
        ts = str(head.file_meta.TransferSyntaxUID)
        entry = {
            'file': name + '.dcm', 'transferSyntaxUid': ts,
            'studyInstanceUid': str(head.StudyInstanceUID), 'seriesInstanceUid': str(head.SeriesInstanceUID),
            'sopInstanceUid': str(head.SOPInstanceUID),
            'rows': int(head.Rows), 'columns': int(head.Columns), 'frames': int(getattr(head, 'NumberOfFrames', 1) or 1),
            'samplesPerPixel': int(head.SamplesPerPixel), 'photometricInterpretation': str(head.PhotometricInterpretation),
        }
        if ts in JPEG_2000:
            # dcmtk has no JPEG 2000 decoder: Pillow (OpenJPEG) through pydicom is the reference. OpenJPEG
            # undoes the RCT/ICT colour transform itself, so colour comes out RGB.
            ds = pydicom.dcmread(path)
            arr = stored_array(ds)
            entry['referenceDecoder'] = 'pydicom+pillow'
            entry['referencePhotometric'] = 'RGB' if entry['samplesPerPixel'] == 3 else entry['photometricInterpretation']
        else:
            dec = os.path.join(ref_dir, name + '.le.dcm')
            to_explicit_le(path, dec)
            ds = pydicom.dcmread(dec)
            arr = stored_array(ds)
            entry['referenceDecoder'] = 'dcmtk'
            entry['referencePhotometric'] = str(ds.PhotometricInterpretation)
            os.remove(dec)
            if entry['referencePhotometric'].startswith('YBR'):
                # dcmtk keeps uncompressed YBR as is; pydicom's conversion is the RGB reference (rounding may differ by 1).
                from pydicom.pixel_data_handlers.util import convert_color_space
                arr = convert_color_space(arr, 'YBR_FULL', 'RGB', per_frame=True)
                entry['referenceDecoder'] = 'dcmtk+pydicom-colour'
                entry['referencePhotometric'] = 'RGB'
                entry['tolerance'] = 1
        entry['reference'] = write_reference(arr, os.path.join(ref_dir, name + '.raw'))
        manifest['samples'][name] = entry
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


# --- CT series -----------------------------------------------------------------------------------------

CT_VARIANTS = ['explicit-le', 'implicit-le', 'explicit-be', 'rle', 'jpeg-lossless-sv1', 'jpeg-lossless',
               'jpeg-ls-lossless', 'j2k-lossless']


def j2k_lossless(ds_path, dst):
    """Reversible JPEG 2000 of a 16-bit grey or 8-bit RGB instance, encoded by Pillow (OpenJPEG); dcmtk has none.
    Colour gets the reversible colour transform (PhotometricInterpretation YBR_RCT)."""
    from PIL import Image
    ds = pydicom.dcmread(ds_path)
    rows, cols = int(ds.Rows), int(ds.Columns)
    if int(ds.SamplesPerPixel) == 3:
        img = Image.frombuffer('RGB', (cols, rows), ds.PixelData, 'raw', 'RGB', 0, 1)
        options = {'mct': 1}
        ds.PhotometricInterpretation = 'YBR_RCT'
    else:
        bits = np.frombuffer(ds.PixelData, '<u2').reshape(rows, cols)
        img = Image.frombuffer('I;16', (cols, rows), bits.tobytes(), 'raw', 'I;16', 0, 1)
        options = {}
    buf = io.BytesIO()
    img.save(buf, format='JPEG2000', irreversible=False, no_jp2=True, **options)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds['PixelData'].VR = 'OB'
    ds['PixelData'].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = TS['j2k-lossless']
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.save_as(dst)


def convert_ct(variant, src, dst):
    tools = {
        'implicit-le': ['dcmconv', '+ti'], 'explicit-be': ['dcmconv', '+tb'], 'rle': ['dcmcrle'],
        'jpeg-lossless-sv1': ['dcmcjpeg', '+e1'], 'jpeg-lossless': ['dcmcjpeg', '+el', '+sv', '7'],
        'jpeg-ls-lossless': ['dcmcjpls'],
    }
    if variant == 'j2k-lossless':
        j2k_lossless(src, dst)
    else:
        run(tools[variant] + [src, dst])


def build_ct(out, slices):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    order = rng.permutation(slices)  # instance number of slice k is order[k] + 1: not spatial order
    frame_of_ref = generate_uid()
    spacing, z0 = 2.0, -0.5 * 2.0 * (slices - 1)
    variants = {}
    for variant in CT_VARIANTS:
        variants[variant] = {'dir': variant, 'files': [], 'studyInstanceUid': generate_uid(),
                             'seriesInstanceUid': generate_uid(), 'transferSyntaxUid': TS[variant]}
        os.makedirs(os.path.join(out, variant), exist_ok=True)
    base = variants['explicit-le']
    positions = []
    for k in range(slices):
        z = z0 + spacing * k
        sop = generate_uid()
        ds = base_dataset('1.2.840.10008.5.1.4.1.1.2', base['studyInstanceUid'], base['seriesInstanceUid'], sop, 'CT')
        set_grey_pixels(ds, phantom_slice(z, 512, rng))
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'AXIAL']
        ds.InstanceNumber = int(order[k]) + 1
        ds.FrameOfReferenceUID = frame_of_ref
        ds.PositionReferenceIndicator = ''
        ds.ImagePositionPatient = [-179.2, -179.2, round(z, 3)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.SliceThickness = 2.5
        ds.SliceLocation = round(z, 3)
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, 'HU'
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.KVP, ds.SeriesDescription = 120, 'FIXTURE CHEST AXIAL'
        name = 'ct_%04d.dcm' % int(order[k])  # file names follow instance numbers, also unsorted spatially
        ds.save_as(os.path.join(out, 'explicit-le', name), write_like_original=False)
        base['files'].append('explicit-le/' + name)
        positions.append(round(z, 3))

    def job(variant_and_name):
        variant, name = variant_and_name
        dst = os.path.join(out, variant, name)
        convert_ct(variant, os.path.join(out, 'explicit-le', name), dst)
        v = variants[variant]
        # Each variant is its own study and series so several can share one PACS.
        args = ['dcmodify', '-nb', '-q', '-gin',
                '-m', 'StudyInstanceUID=' + v['studyInstanceUid'], '-m', 'SeriesInstanceUID=' + v['seriesInstanceUid']]
        run(args + [dst])

    names = [os.path.basename(f) for f in base['files']]
    jobs = [(v, n) for v in CT_VARIANTS if v != 'explicit-le' for n in names]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(job, jobs))
    for variant in CT_VARIANTS:
        if variant != 'explicit-le':
            variants[variant]['files'] = [variant + '/' + n for n in names]
    # List the files in yet another order (neither spatial nor by instance number) so callers must sort.
    listing = rng.permutation(slices)
    for variant in CT_VARIANTS:
        variants[variant]['files'] = [variants[variant]['files'][i] for i in listing]
    positions = [positions[i] for i in listing]
    instance_numbers = [int(order[i]) + 1 for i in listing]
    manifest = {
        'patient': PATIENT, 'slices': slices, 'rows': 512, 'columns': 512, 'pixelSpacing': [0.7, 0.7],
        'sliceThickness': 2.5, 'spacingBetweenSlices': spacing, 'rescaleIntercept': -1024, 'rescaleSlope': 1,
        'frameOfReferenceUid': frame_of_ref,
        # z of the file at files[i] (same order in every variant)
        'positionsZ': positions, 'instanceNumbers': instance_numbers, 'variants': variants,
    }
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('what', choices=['samples', 'ct'])
    p.add_argument('--out', required=True)
    p.add_argument('--slices', type=int, default=64)
    a = p.parse_args()
    if a.what == 'samples':
        build_samples(a.out)
    else:
        build_ct(a.out, a.slices)


if __name__ == '__main__':
    sys.exit(main())
