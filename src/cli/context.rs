use crate::cli::global::GlobalArgs;
use crate::kube::KubeTarget;
use crate::output::{Printer, PrinterOptions};

/// What every command receives: the Printer, the resolved global settings and a lazily
/// built Kubernetes client.
#[derive(Debug)]
pub struct Context {
    printer: Printer,
    global: GlobalArgs,
    kube: KubeTarget,
}

impl Context {
    /// Resolves the global flags; builds no client and reads no file.
    pub fn from_global(global: GlobalArgs) -> Self {
        let options =
            PrinterOptions::detect(global.output, global.quiet, global.no_color, global.yes);
        Self::with_printer(global, Printer::stdio(options))
    }

    pub fn with_printer(global: GlobalArgs, printer: Printer) -> Self {
        let kube = KubeTarget::new(
            global.kubeconfig.clone(),
            global.context.clone(),
            global.request_timeout,
        );
        Self {
            printer,
            global,
            kube,
        }
    }

    pub fn printer(&self) -> &Printer {
        &self.printer
    }

    pub fn global(&self) -> &GlobalArgs {
        &self.global
    }

    /// The cluster selected by `--kubeconfig`/`--context`.
    pub fn kube(&self) -> &KubeTarget {
        &self.kube
    }

    /// The namespace meshctl is installed in (`-n`).
    pub fn namespace(&self) -> &str {
        &self.global.namespace
    }
}
