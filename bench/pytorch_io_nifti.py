"""nibabel's side of bench/bench_io_nifti.cpp: the same files and calls (see that file's header), with
nib.load(p).get_fdata() for reading, nib.load(p).header for the header and nib.save for writing
(nibabel compresses .gz at its default level, 1). nibabel is imported from the environment, or from the
reference virtual environment (/work/venv-ref) when the interpreter lacks it; without it there are no
cases. torch_cases(torch) -> [(voxnn benchmark name, zero-argument callable)]."""

import glob
import os
import sys
import tempfile


def _nibabel():
    try:
        import nibabel
        return nibabel
    except ImportError:
        for site in glob.glob("/work/venv-ref/lib/python3*/site-packages"):
            if site not in sys.path:
                sys.path.append(site)
        try:
            import nibabel
            return nibabel
        except ImportError:
            return None


def torch_cases(torch):
    del torch  # nibabel works on numpy arrays
    nib = _nibabel()
    if nib is None:
        return []
    import numpy as np

    shared = os.environ.get("VOXNN_SHARED_DATA", "/work/shared/data")
    t1 = os.path.join(shared, "mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    avg = os.path.join(shared, "spm12_canonical/avg152T1.nii")
    cases = []
    if os.path.exists(t1):
        cases.append(("nifti_read_mni152_t1_gz_f64", lambda: nib.load(t1).get_fdata()))
        cases.append(("nifti_read_mni152_t1_gz_f32", lambda: nib.load(t1).get_fdata(dtype=np.float32)))
        cases.append(("nifti_header_mni152_t1_gz", lambda: nib.load(t1).header))
        img = nib.load(t1)
        img = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header)
        out = os.path.join(tempfile.gettempdir(), "voxnn_bench_io_nifti_nib.nii.gz")
        cases.append(("nifti_write_mni152_t1_gz_l1", lambda: nib.save(img, out)))
    if os.path.exists(avg):
        cases.append(("nifti_read_avg152_nii_f64", lambda: nib.load(avg).get_fdata()))
    return cases
