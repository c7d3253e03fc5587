#!/usr/bin/python3
"""Builds the committed demo study samples/sample-study/ from pydicom's own test files.

One study (patient DEMO^SAMPLE, id DEMO-0001) with three series:
  ct-01..05.dcm  CT, chest: CT_small.dcm as the middle slice plus four neighbours derived from it
                 (content shifted a few rows, ImagePositionPatient moved by the slice spacing)
  mr-01.dcm      MR: MR_small.dcm (a T2-weighted spin echo, TR 4000 / TE 240)
  dx-01.dcm      DX, body part CHEST: CT_small's pixels stored as a digital radiograph
UIDs are derived from a fixed seed (UUIDv5 under 2.25), so running this again gives byte-identical files.

Run with Debian's python (it has pydicom and numpy): /usr/bin/python3 scripts/make-sample-study.py
"""
import argparse
import os
import uuid

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

SEED = 'unimedvl-plugin:demo-sample-study:v1'
SOURCE_DIR = os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files')
CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2'
MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4'
DX_PRESENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.1.1'
STUDY_DATE = '20260102'
STUDY_TIME = '093000'


def uid(role):
    """Stable DICOM UID for one role: 2.25 + the decimal UUIDv5 of seed:role."""
    return '2.25.' + str(uuid.uuid5(uuid.NAMESPACE_URL, f'{SEED}:{role}').int)


def source(name):
    return pydicom.dcmread(os.path.join(SOURCE_DIR, name))


def copy_attributes(target, src, keywords):
    for keyword in keywords:
        if keyword in src and src.data_element(keyword).value not in (None, ''):
            setattr(target, keyword, src.data_element(keyword).value)


def base_dataset(sop_class, sop_instance, series_role, modality, series_number, series_description):
    """Patient, study, series, equipment and SOP common attributes; nothing copied from the sources."""
    ds = Dataset()
    ds.SpecificCharacterSet = 'ISO_IR 192'
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.InstanceCreationDate = STUDY_DATE
    ds.InstanceCreationTime = STUDY_TIME
    ds.StudyDate = STUDY_DATE
    ds.StudyTime = STUDY_TIME
    ds.SeriesDate = STUDY_DATE
    ds.SeriesTime = STUDY_TIME
    ds.ContentDate = STUDY_DATE
    ds.ContentTime = STUDY_TIME
    ds.AccessionNumber = 'DEMO-ACC-0001'
    ds.Modality = modality
    ds.ReferringPhysicianName = ''
    ds.StudyDescription = 'DEMO sample study (pydicom test images)'
    ds.SeriesDescription = series_description
    ds.PatientName = 'DEMO^SAMPLE'
    ds.PatientID = 'DEMO-0001'
    ds.PatientBirthDate = ''
    ds.PatientSex = 'O'
    ds.PatientIdentityRemoved = 'YES'
    ds.DeidentificationMethod = 'Synthetic demo data built from pydicom test files'
    ds.StudyInstanceUID = uid('study')
    ds.SeriesInstanceUID = uid(f'series:{series_role}')
    ds.StudyID = 'DEMO1'
    ds.SeriesNumber = series_number
    ds.Manufacturer = 'pydicom sample data (synthetic demo)'
    return ds


def finish(ds, path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.preamble = b'\0' * 128
    ds.save_as(path, write_like_original=False)


def pixel_module(ds, pixels, bits_stored, signed):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = pixels.astype('<i2' if signed else '<u2').tobytes()


def make_ct(out_dir):
    src = source('CT_small.dcm')
    centre = src.pixel_array.astype(np.int16)
    spacing = float(src.SliceThickness)
    x0, y0, z0 = (float(v) for v in src.ImagePositionPatient)
    frame_of_reference = uid('frame-of-reference:ct')
    for index, offset in enumerate(range(-2, 3)):
        # Neighbours: the same anatomy moved by 2 rows per slice and slightly attenuated, so slices differ.
        rows = np.clip(np.arange(centre.shape[0]) - 2 * offset, 0, centre.shape[0] - 1)
        pixels = centre[rows]  # shifted, edge rows repeated (no wrap-around seam)
        if offset != 0:
            pixels = (pixels.astype(np.int32) * (100 - 3 * abs(offset)) // 100).astype(np.int16)
        ds = base_dataset(CT_IMAGE_STORAGE, uid(f'instance:ct:{index + 1}'), 'ct', 'CT', 1, 'CT chest (demo volume, 5 slices)')
        copy_attributes(ds, src, ['ImageType', 'KVP', 'ConvolutionKernel', 'PatientPosition', 'ImageOrientationPatient',
                                  'PixelSpacing', 'SliceThickness', 'SpacingBetweenSlices', 'RescaleIntercept', 'RescaleSlope',
                                  'ManufacturerModelName', 'XRayTubeCurrent', 'ExposureTime'])
        ds.BodyPartExamined = 'CHEST'
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = index + 1
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ''
        ds.ImagePositionPatient = [f'{x0:.6f}', f'{y0:.6f}', f'{z0 + offset * spacing:.6f}']
        ds.SliceLocation = f'{z0 + offset * spacing:.6f}'
        ds.WindowCenter = '-500'
        ds.WindowWidth = '1500'
        ds.WindowCenterWidthExplanation = 'LUNG'
        pixel_module(ds, pixels, 16, True)
        finish(ds, os.path.join(out_dir, f'ct-{index + 1:02d}.dcm'))


def make_mr(out_dir):
    src = source('MR_small.dcm')
    ds = base_dataset(MR_IMAGE_STORAGE, uid('instance:mr:1'), 'mr', 'MR', 2, 'T2 SE (demo)')
    copy_attributes(ds, src, ['ImageType', 'ScanningSequence', 'SequenceVariant', 'MRAcquisitionType', 'SliceThickness',
                              'RepetitionTime', 'EchoTime', 'NumberOfAverages', 'ImagingFrequency', 'ImagedNucleus',
                              'EchoNumbers', 'FlipAngle', 'PatientPosition', 'ImageOrientationPatient', 'ImagePositionPatient',
                              'PixelSpacing', 'WindowCenter', 'WindowWidth', 'ManufacturerModelName'])
    ds.ScanOptions = ''
    ds.Laterality = ''
    ds.EchoTrainLength = 1
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = uid('frame-of-reference:mr')
    ds.PositionReferenceIndicator = ''
    pixel_module(ds, src.pixel_array.astype(np.int16), 16, True)
    finish(ds, os.path.join(out_dir, 'mr-01.dcm'))


def make_dx(out_dir):
    src = source('CT_small.dcm')
    hu = src.pixel_array.astype(np.float64) * float(src.RescaleSlope) + float(src.RescaleIntercept)
    # Wide window to 12 bits, then 2x nearest-neighbour upsampling: a 256x256 "radiograph".
    pixels = np.clip((hu + 1000.0) / 2000.0, 0.0, 1.0) * 4095.0
    pixels = np.repeat(np.repeat(np.rint(pixels).astype(np.uint16), 2, axis=0), 2, axis=1)
    ds = base_dataset(DX_PRESENTATION_STORAGE, uid('instance:dx:1'), 'dx', 'DX', 3, 'Chest PA (demo)')
    ds.ImageType = ['ORIGINAL', 'PRIMARY']
    ds.PresentationIntentType = 'FOR PRESENTATION'
    ds.BodyPartExamined = 'CHEST'
    ds.ViewPosition = 'PA'
    ds.ImageLaterality = 'U'
    ds.PatientOrientation = ['L', 'F']
    region = Dataset()
    region.CodeValue = '43799004'
    region.CodingSchemeDesignator = 'SCT'
    region.CodeMeaning = 'Chest'
    ds.AnatomicRegionSequence = Sequence([region])
    view = Dataset()
    view.CodeValue = '399348003'
    view.CodingSchemeDesignator = 'SCT'
    view.CodeMeaning = 'postero-anterior'
    ds.ViewCodeSequence = Sequence([view])
    ds.AcquisitionContextSequence = Sequence([])
    ds.DetectorType = 'DIRECT'
    ds.ImagerPixelSpacing = ['0.661468', '0.661468']
    ds.PixelSpacing = ['0.661468', '0.661468']
    ds.PositionerType = ''
    ds.KVP = '120'
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.PixelIntensityRelationship = 'LIN'
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = '0'
    ds.RescaleSlope = '1'
    ds.RescaleType = 'US'
    ds.PresentationLUTShape = 'IDENTITY'
    ds.LossyImageCompression = '00'
    ds.BurnedInAnnotation = 'NO'
    ds.WindowCenter = '2048'
    ds.WindowWidth = '4096'
    pixel_module(ds, pixels, 12, False)
    finish(ds, os.path.join(out_dir, 'dx-01.dcm'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'samples', 'sample-study')
    parser.add_argument('--out', default=default_out)
    out_dir = os.path.abspath(parser.parse_args().out)
    os.makedirs(out_dir, exist_ok=True)
    make_ct(out_dir)
    make_mr(out_dir)
    make_dx(out_dir)
    print(f'sample study written to {out_dir}')


if __name__ == '__main__':
    main()
