//! meshctl: the operator CLI, management server and agent of a multi-cluster
//! application-networking platform.
