package app

// usageQueueBytes bounds the usage events held in memory between the request path and their
// sink (usage.Queue): about 70,000 events of the size a chat request's event counts.
const usageQueueBytes = 64 << 20
