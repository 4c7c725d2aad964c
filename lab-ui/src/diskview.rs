//! What the page and the worker say about the machine's disk: the disk to attach
//! ([`DiskSpec`]) and what the disk panel draws ([`DiskView`]).

use serde::{Deserialize, Serialize};

/// Where the disk sits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Controller {
    /// The emulated ATA drive on the primary IDE channel (PIO).
    Ata,
    /// The virtio-blk device.
    Virtio,
    /// One disk on each, of the same content.
    Both,
}

impl Controller {
    /// Parses `ata`, `virtio` or `both`.
    pub fn parse(s: &str) -> Result<Controller, String> {
        match s {
            "ata" => Ok(Controller::Ata),
            "virtio" => Ok(Controller::Virtio),
            "both" => Ok(Controller::Both),
            _ => Err(format!("controller {s:?}: ata, virtio or both")),
        }
    }
}

/// Where the image's bytes come from.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum DiskSource {
    /// Built by vmlab: `sectors` of the pattern `seed + sector + byte`; a qcow2 image
    /// is made by vmlab's own qcow2 writer, as an empty overlay over a raw backing
    /// file with the pattern when `backing`, else with the pattern written into it.
    Built {
        /// `raw` or `qcow2`.
        format: String,
        /// The disk's size in sectors.
        sectors: u64,
        /// The pattern's seed.
        seed: u8,
        /// A qcow2 image's cluster size as a power of two.
        cluster_bits: u32,
        /// A qcow2 image is an overlay over a raw backing file.
        backing: bool,
    },
    /// Files the user picked: the image, and the files its backing chain names.
    Files {
        /// The image's file name.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
        /// `raw` or `qcow2`; probed when `None`.
        format: Option<String>,
        /// Backing files by file name.
        backing: Vec<(String, Vec<u8>)>,
    },
}

/// The disk a machine gets.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DiskSpec {
    /// Where it sits.
    pub controller: Controller,
    /// Its bytes.
    pub source: DiskSource,
    /// virtio-blk's service time per request: `[fixed, per 512 bytes]` guest cycles.
    #[serde(default)]
    pub virtio_service: [u64; 2],
}

/// Where a guest cluster's bytes are, for the picture.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Where {
    /// In the top image.
    Allocated,
    /// Zeros by the v3 zero flag.
    Zero,
    /// In the backing file (the guest shares it).
    Backing,
    /// Nowhere: reads as zeros.
    Unallocated,
    /// Compressed in the top image.
    Compressed,
}

impl Where {
    /// The word the panel and the tests use.
    pub fn name(self) -> &'static str {
        match self {
            Where::Allocated => "allocated",
            Where::Zero => "zero",
            Where::Backing => "backing",
            Where::Unallocated => "unallocated",
            Where::Compressed => "compressed",
        }
    }
}

/// One guest cluster of a qcow2 image.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClusterView {
    /// The guest cluster number.
    pub guest: u64,
    /// Its L1 index.
    pub l1_index: u64,
    /// Its L2 table's host offset (0: none).
    pub l2_table: u64,
    /// Its index in the L2 table.
    pub l2_index: u64,
    /// Where its bytes are.
    pub place: Where,
    /// The host offset of its bytes (in the backing file for [`Where::Backing`]).
    pub host: Option<u64>,
    /// The refcount of its host cluster in the top image.
    pub refcount: Option<u64>,
    /// A guest write allocated it (copy-on-write) since the disk was attached.
    pub written: bool,
}

/// One disk as the disk panel draws it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DiskView {
    /// `ata` or `virtio`.
    pub controller: String,
    /// Format, size and backing chain in one line.
    pub describe: String,
    /// `raw` or `qcow2`.
    pub format: String,
    /// The disk's size in sectors.
    pub sectors: u64,
    /// Bytes per cluster (512 for a raw disk: one sector).
    pub cluster_size: u64,
    /// The guest clusters (qcow2; the first [`MAX_CLUSTERS`]).
    pub clusters: Vec<ClusterView>,
    /// The L1 table: each entry's L2 table offset (0: none).
    pub l1: Vec<u64>,
    /// The top image's host clusters in use and their refcounts.
    pub refcounts: Vec<(u64, u64)>,
    /// The internal snapshots' names.
    pub snapshots: Vec<String>,
    /// Sectors the guest read and wrote since the disk was attached.
    pub sectors_read: u64,
    /// See `sectors_read`.
    pub sectors_written: u64,
    /// The sectors the guest wrote (the first [`MAX_SECTORS_SHOWN`]).
    pub written: Vec<u64>,
    /// Guest clusters a write allocated since the previous view: they light up.
    pub fresh: Vec<u64>,
    /// What went wrong reading the image, if anything.
    pub error: Option<String>,
}

/// The most clusters a view carries.
pub const MAX_CLUSTERS: u64 = 1024;
/// The most written sectors a view lists.
pub const MAX_SECTORS_SHOWN: usize = 4096;

impl DiskView {
    /// Guest clusters of the top image with data.
    pub fn count(&self, place: Where) -> u64 {
        self.clusters.iter().filter(|c| c.place == place).count() as u64
    }

    /// The cluster guest sector `sector` lives in.
    pub fn cluster_of(&self, sector: u64) -> Option<&ClusterView> {
        let per = (self.cluster_size / 512).max(1);
        self.clusters.iter().find(|c| c.guest == sector / per)
    }
}
