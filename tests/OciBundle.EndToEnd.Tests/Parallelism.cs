using Microsoft.VisualStudio.TestTools.UnitTesting;

// Test classes run side by side, one per core (Workers = 0: as many as the machine has); the tests of one class run
// one after the other, in one worker, so a class may publish a project once (ClassInitialize) and have several tests
// read it. Everything a test touches is its own: temporary folders, runc container ids and state folders, registry
// ports, containerd instances. A test that changes what the whole machine sees (a file under /etc, a mount outside
// its own folder, a fixed container or image name) carries [DoNotParallelize]: MSTest runs those alone, after the rest.
// README ("Running the tests") says how a new end-to-end test fits this.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
